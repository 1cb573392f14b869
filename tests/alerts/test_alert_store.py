"""Alert history and rule reproduction against the embedded store (chdb)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lightkeeper.alerts.evaluator import RuleEvaluator
from lightkeeper.alerts.lifecycle import AlertEngine
from lightkeeper.alerts.rules import parse_rules
from lightkeeper.alerts.store import StoreHistory, evaluate_sql, list_alerts
from lightkeeper.processors.anomaly import MetricPoint, MinuteAggregator
from lightkeeper.schemas.events import LLMCallEvent, Usage
from lightkeeper.schemas.rows import event_row
from lightkeeper.store.writer import BatchWriter

BASE = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def _events() -> list[tuple[LLMCallEvent, float]]:
    out = []
    for minute in range(5):
        for i in range(20):
            app = "chat" if i % 2 else "search"
            err = (i % 7 == 0) if app == "chat" else (minute == 3 and i % 4 == 0)
            ev = LLMCallEvent(
                event_id=f"e-{minute}-{i}",
                app=app,
                request_model="gpt-x",
                user_id=f"u{i % 3}",
                start_time=BASE + timedelta(minutes=minute, seconds=2 * i),
                duration_ms=100.0 + 10 * i,
                usage=Usage(input_tokens=100, output_tokens=10 * i),
                error_type="boom" if err else None,
                tags={"team": "t1" if i % 3 else "t2"},
            )
            out.append((ev, 0.001 * (i + 1)))
    return out


RULES = parse_rules(
    {
        "rules": [
            {
                "name": "err",
                "metric": "error_rate",
                "aggregate": "avg",
                "window": "5m",
                "threshold": 0.1,
                "group_by": ["app"],
            },
            {
                "name": "cost",
                "metric": "cost_usd",
                "aggregate": "sum",
                "window": "5m",
                "threshold": 1,
                "group_by": ["app"],
            },
            {
                "name": "team",
                "metric": "cost_usd",
                "series": "tag:team",
                "aggregate": "sum",
                "window": "5m",
                "threshold": 1,
                "group_by": ["team"],
            },
            {
                "name": "reqmax",
                "metric": "requests",
                "series": "user",
                "aggregate": "max",
                "window": "5m",
                "threshold": 1,
                "group_by": ["user_id"],
                "where": {"app": "chat"},
            },
        ]
    }
)


def test_sql_reproduces_streaming_values(store_client, store_database):
    events = _events()
    writer = BatchWriter(store_client, "events", database=store_database)
    writer.write([event_row(ev, cost_usd=cost) for ev, cost in events])
    agg = MinuteAggregator(tag_series=("team",))
    for ev, cost in events:
        agg.add_event(ev, cost)
    evaluator = RuleEvaluator(RULES)
    evaluator.observe(agg.flush_all())
    end = BASE + timedelta(minutes=5)
    for rule in RULES:
        streaming = {tuple(e.labels.values()): e.value for e in evaluator.evaluate_rule(rule, end)}
        stored = {
            tuple(str(r[k]) for k in rule.group_by): float(r["value"])
            for r in evaluate_sql(store_client, rule, end - rule.window, end, store_database)
        }
        assert streaming.keys() == stored.keys(), rule.name
        for k, v in streaming.items():
            assert stored[k] == pytest.approx(v, rel=1e-6), (rule.name, k)


def _pt(rate: float, i: int) -> MetricPoint:
    return MetricPoint("error_rate", {"app": "chat", "model": "m"}, BASE + timedelta(minutes=i), rate, 100.0)


def test_history_written_and_listed(store_client, store_database, tmp_path):
    rules = parse_rules(
        {
            "rules": [
                {
                    "name": "errors-high",
                    "metric": "error_rate",
                    "window": "5m",
                    "threshold": 0.1,
                    "group_by": ["app"],
                    "for": "1m",
                }
            ]
        }
    )
    history = StoreHistory(store_client, database=store_database)
    engine = AlertEngine(rules, history=history)
    for i in range(6):
        engine.observe([_pt(0.01, i)])
        engine.tick(BASE + timedelta(minutes=i + 1))
    for i in range(6, 9):
        engine.observe([_pt(0.6, i)])
        engine.tick(BASE + timedelta(minutes=i + 1))
    firing = list_alerts(store_client, store_database, state="firing")
    assert len(firing) == 1 and firing[0]["rule"] == "errors-high" and firing[0]["labels"]["app"] == "chat"
    for i in range(9, 20):
        engine.observe([_pt(0.0, i)])
        engine.tick(BASE + timedelta(minutes=i + 1))
    rows = list_alerts(store_client, store_database)
    assert len(rows) == 1 and rows[0]["state"] == "resolved" and rows[0]["resolved_at"] is not None
    history.close()
