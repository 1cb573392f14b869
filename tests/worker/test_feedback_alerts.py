"""Alert rules on the negative-feedback rate: rule validation, evaluation over the feedback
points the pipeline makes, feedback-only batches, the faust monitor envelopes, the rule's SQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lightkeeper.alerts.evaluator import RuleEvaluator
from lightkeeper.alerts.rules import parse_rules
from lightkeeper.alerts.sql import render_sql
from lightkeeper.errors import ConfigError
from lightkeeper.processors.metrics import WorkerMetrics
from lightkeeper.processors.monitor_envelope import encode_envelopes
from lightkeeper.processors.pipeline import Batch, Pipeline, RawEvent
from lightkeeper.processors.sink import Sink
from lightkeeper.schemas.feedback import FeedbackRecord
from lightkeeper.worker.faust_app import run_monitors

from .helpers import T0, raw

RULE = {
    "name": "unhappy-users",
    "series": "feedback",
    "metric": "negative_feedback_rate",
    "aggregate": "avg",
    "window": "10m",
    "threshold": 0.3,
    "min_weight": 5,
    "group_by": ["app"],
}


def _fb(i: int, negative: bool, app: str = "shop") -> RawEvent:
    rec = FeedbackRecord(
        feedback_id=f"f{i}",
        app=app,
        event_id=f"e{i}",
        score=not negative,
        received_at=T0 + timedelta(seconds=i),
    )
    return RawEvent(rec.encode())


class _Recorder:
    name = "alerts"
    takes_feedback = True

    def __init__(self) -> None:
        self.points: list[Any] = []

    def process(self, batch: Batch) -> None:
        self.points.extend(batch.context.feedback_points)


def test_rule_validation_knows_the_feedback_series():
    [rule] = parse_rules({"rules": [RULE]})
    assert rule.series == "feedback"
    with pytest.raises(ConfigError, match="negative_feedback_rate"):
        parse_rules({"rules": [{**RULE, "metric": "error_rate"}]})
    with pytest.raises(ConfigError, match="unknown label"):
        parse_rules({"rules": [{**RULE, "group_by": ["model"]}]})


def test_negative_rate_breaches_from_a_feedback_only_batch():
    stage = _Recorder()
    pipeline = Pipeline(stages=[stage])
    batch = pipeline.process([_fb(i, negative=i % 2 == 0) for i in range(10)] + [_fb(99, True, app="other")])
    assert not batch.events and len(batch.rows["feedback"]) == 11
    by_app = {p.labels["app"]: p for p in stage.points}
    assert by_app["shop"].value == pytest.approx(0.5) and by_app["shop"].weight == 10
    assert by_app["shop"].series == "feedback" and by_app["shop"].minute == T0

    [rule] = parse_rules({"rules": [RULE]})
    evaluator = RuleEvaluator([rule])
    assert evaluator.observe(stage.points) == 2
    results = {e.labels["app"]: e for e in evaluator.evaluate(T0 + timedelta(minutes=5))}
    assert results["shop"].breached and results["shop"].value == pytest.approx(0.5)
    assert not results["other"].breached  # one item: below min_weight


def test_faust_monitor_envelopes_carry_feedback_to_the_keyed_alert_stage():
    batch = Pipeline().process([RawEvent(raw(1)), _fb(1, True), _fb(2, False)])
    envelopes = encode_envelopes(batch)
    assert [key for key, _ in envelopes] == ["shop|gpt-4o-mini-2024-07-18", "shop|feedback", "shop|feedback"]
    stage = _Recorder()
    opened = run_monitors(Pipeline(stages=[stage]), [value for _, value in envelopes])
    assert "feedback" not in opened.rows  # stored once, by the events agent
    assert [(p.value, p.weight) for p in stage.points] == [(0.5, 2.0)]


async def test_rule_sql_reproduces_the_rate_from_the_store(store_client: Any, store_database: str):
    batch = Pipeline().process([_fb(i, negative=i < 3) for i in range(4)])
    assert await Sink(store_client, database=store_database, metrics=WorkerMetrics()).store(batch)
    [rule] = parse_rules({"rules": [RULE]})
    sql = render_sql(
        rule, {"app": "shop"}, T0 - timedelta(minutes=5), T0 + timedelta(minutes=5), store_database
    )
    assert "feedback_dedup" in sql
    ((app, value, weight),) = store_client.query(sql).result_rows
    assert app == "shop" and value == pytest.approx(0.75) and weight == 4
