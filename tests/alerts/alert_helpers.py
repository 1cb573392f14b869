"""Helpers shared by the alerting tests (imported as a plain module)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lightkeeper.alerts.notification import AlertItem, Notification
from lightkeeper.metric_point import MetricPoint
from lightkeeper.schemas.records import Severity

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def minute(i: int) -> datetime:
    return T0 + timedelta(minutes=i)


def point(
    metric: str, value: float, i: int, weight: float = 1.0, series: str = "model", **labels: str
) -> MetricPoint:
    labels = labels or {"app": "chat", "model": "gpt-x"}
    return MetricPoint(metric, dict(labels), minute(i), value, weight, (), series)


def make_note(kind: str = "firing", **over: object) -> Notification:
    base: dict[str, object] = dict(
        key=f"inc-1:0:{kind}",
        kind=kind,
        incident_key="lk-rule-abc",
        rule="tox-rate",
        severity=Severity.HIGH,
        summary="toxicity_rate 0.08 > 0.02",
        labels={"app": "chat", "alertname": "tox-rate"},
        metric="toxicity_rate",
        aggregate="avg",
        window_s=300,
        threshold=0.02,
        value=0.08,
        alerts=[
            AlertItem(
                alert_id="a1",
                dedup_key="lk-rule-abc",
                labels={"app": "chat"},
                value=0.08,
                started_at=T0,
                top=[({"app": "chat", "model": "gpt-x"}, 0.08)],
            )
        ],
        sql="SELECT 1",
        event_time=T0,
    )
    base.update(over)
    return Notification.model_validate(base)
