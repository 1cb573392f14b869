"""Rule evaluation over per-minute points."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alert_helpers import T0, minute, point

from lightkeeper.alerts.evaluator import RuleEvaluator, aggregate, points_from_anomalies, points_from_drift
from lightkeeper.alerts.lifecycle import AlertEngine
from lightkeeper.alerts.rules import parse_rules
from lightkeeper.metric_point import MetricPoint
from lightkeeper.schemas.records import AnomalyRecord, DriftRecord, Severity, WindowBounds


def _rules(**over: object):
    rule = {
        "name": "r",
        "metric": "error_rate",
        "aggregate": "avg",
        "window": "5m",
        "threshold": 0.1,
        "group_by": ["app"],
    }
    rule.update(over)
    return parse_rules({"rules": [rule]})


def test_weighted_average_and_other_aggregates():
    pts = [point("error_rate", 0.5, 0, 10), point("error_rate", 0.0, 1, 90)]
    assert aggregate("avg", pts) == (pytest.approx(0.05), 100)
    assert aggregate("sum", pts)[0] == 0.5 and aggregate("max", pts)[0] == 0.5
    assert aggregate("last", pts)[0] == 0.0 and aggregate("count", pts)[0] == 2
    lat = [MetricPoint("latency_p95_ms", {}, T0, 5.0, 3, (1.0, 2.0, 100.0))]
    assert aggregate("p50", lat)[0] == 2.0  # from the raw samples, not the minute's value


def test_window_groups_where_and_min_weight():
    [rule] = _rules(where={"app": ["chat", "search"]}, min_weight=50)
    ev = RuleEvaluator([rule])
    ev.observe(
        [
            point("error_rate", 0.5, i, 20, app=app, model=m)
            for i in range(10)
            for app, m in (("chat", "a"), ("chat", "b"), ("search", "a"), ("ops", "a"))
        ]
    )
    res = {e.labels["app"]: e for e in ev.evaluate(minute(10))}
    assert set(res) == {"chat", "search"}  # 'ops' filtered out
    assert res["chat"].weight == 200 and res["search"].weight == 100  # 5 minutes x models
    assert res["chat"].breached and res["chat"].top
    ev2 = RuleEvaluator([rule])
    ev2.observe([point("error_rate", 0.5, 9, 20, app="chat", model="a")])
    assert not ev2.evaluate(minute(10))[0].breached  # 20 < min_weight 50


def test_points_outside_window_ignored_and_pruned():
    [rule] = _rules(window="2m")
    ev = RuleEvaluator([rule])
    ev.observe(
        [point("error_rate", 0.9, 0, 100), point("error_rate", 0.0, 8, 100), point("error_rate", 0.0, 9, 100)]
    )
    [res] = ev.evaluate(minute(10))
    assert res.value == 0.0 and not res.breached


def test_partial_points_replace_each_other():
    [rule] = _rules(window="1m")
    ev = RuleEvaluator([rule])
    ev.set_partial([point("error_rate", 0.5, 0, 40)])
    ev.set_partial([point("error_rate", 0.05, 0, 40)])
    [res] = ev.evaluate(minute(0) + timedelta(seconds=30))
    assert res.value == 0.05


def test_drift_and_anomaly_points_feed_rules():
    drift = DriftRecord(
        app="chat",
        model="m",
        target="prompt_embedding",
        method="mmd",
        score=0.4,
        threshold=0.1,
        drifted=True,
        reference=WindowBounds(start=T0, end=T0, size=10),
        current=WindowBounds(start=T0, end=minute(3), size=10),
    )
    anomaly = AnomalyRecord(
        app="chat",
        model="m",
        metric="cost_usd",
        window_start=minute(4),
        actual=9,
        score=8,
        severity=Severity.HIGH,
        detector="ewma_mad",
    )
    pts = points_from_drift([drift]) + points_from_anomalies([anomaly])
    assert {p.metric for p in pts} == {"drift_score", "drifted", "anomaly_severity", "anomaly_score"}
    rules = parse_rules(
        {
            "rules": [
                {
                    "name": "drift",
                    "series": "drift",
                    "metric": "drifted",
                    "aggregate": "max",
                    "op": ">=",
                    "threshold": 1,
                    "window": "1h",
                    "group_by": ["app", "target"],
                },
                {
                    "name": "anom",
                    "series": "anomaly",
                    "metric": "anomaly_severity",
                    "aggregate": "max",
                    "op": ">=",
                    "threshold": "high",
                    "group_by": ["app", "metric"],
                },
            ]
        }
    )
    engine = AlertEngine(rules)
    engine.observe_drift([drift])
    engine.observe_anomalies([anomaly])
    notes = engine.tick(minute(5))
    assert sorted(n.rule for n in notes) == ["anom", "drift"]
    assert "anomalies_dedup" in next(n.sql for n in notes if n.rule == "anom")
