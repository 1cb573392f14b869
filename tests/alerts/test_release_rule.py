"""Release regression rules: validation, firing only on significant worsening beyond the
threshold, the cached comparison source, evaluation from the store."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lightkeeper.alerts.evaluator import RuleEvaluator
from lightkeeper.alerts.releases import ReleaseSource, worsening
from lightkeeper.alerts.rules import parse_rules
from lightkeeper.alerts.sql import render_sql
from lightkeeper.errors import ConfigError
from lightkeeper.report.releases import MetricComparison, ReleaseComparison, compare_releases
from lightkeeper.schemas.events import LLMCallEvent
from lightkeeper.schemas.rows import event_row
from lightkeeper.store.writer import BatchWriter

RULE = {
    "name": "release-regression",
    "series": "release",
    "metric": "any",
    "threshold": 0.1,
    "group_by": ["app"],
}
NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)


def _cmp(*metrics: MetricComparison, app: str = "bot") -> ReleaseComparison:
    return ReleaseComparison(app, "v2", "v1", list(metrics))


def _m(name: str, value: float, baseline: float, low: float, high: float) -> MetricComparison:
    return MetricComparison(name, value, baseline, 500, 500, value - baseline, low, high, "test")


def test_rule_validation() -> None:
    assert parse_rules({"rules": [RULE]})[0].series == "release"
    assert parse_rules({"rules": [{**RULE, "metric": "flag_rate:toxicity_response"}]})
    with pytest.raises(ConfigError, match="not a release metric"):
        parse_rules({"rules": [{**RULE, "metric": "requests"}]})
    with pytest.raises(ConfigError, match="unknown label"):
        parse_rules({"rules": [{**RULE, "group_by": ["model"]}]})


def test_only_significant_worsening_beyond_the_threshold_fires() -> None:
    [rule] = parse_rules({"rules": [RULE]})
    ev = RuleEvaluator([rule])
    ev.release_source = lambda: [
        _cmp(_m("cost_per_call_usd", 1.3, 1.0, 0.2, 0.4), _m("error_rate", 0.05, 0.04, -0.01, 0.03)),
        _cmp(_m("cost_per_call_usd", 1.05, 1.0, 0.01, 0.09), app="small-change"),
        _cmp(_m("latency_p95_ms", 900.0, 500.0, -50.0, 850.0), app="not-significant"),
        _cmp(_m("error_rate", 0.1, 0.0, 0.05, 0.15), app="from-zero"),
    ]
    results = {e.labels["app"]: e for e in ev.evaluate(NOW)}
    assert results["bot"].breached and results["bot"].value == pytest.approx(0.3)
    assert results["bot"].top[0][0]["metric"] == "cost_per_call_usd"
    assert not results["small-change"].breached  # significant, but 5 % < 10 %
    assert not results["not-significant"].breached and results["not-significant"].value == 0.0
    assert results["from-zero"].breached  # from 0 errors to 10 %
    [only_latency] = parse_rules({"rules": [{**RULE, "metric": "latency_p95_ms"}]})
    assert worsening(only_latency, _cmp(_m("cost_per_call_usd", 2.0, 1.0, 0.5, 1.5)))[1] == []


def test_release_source_caches_and_keeps_the_last_good_comparison() -> None:
    now = [0.0]
    calls: list[Any] = [["first"], RuntimeError("store down"), ["third"]]

    def compute() -> Any:
        item = calls.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    source = ReleaseSource(compute, max_age_s=60, clock=lambda: now[0])
    assert source() == ["first"] and source() == ["first"]
    now[0] = 61
    assert source() == ["first"]
    now[0] = 122
    assert source() == ["third"]


def test_fires_from_the_store(store_client: Any, store_database: str) -> None:
    rng = random.Random(5)
    t0 = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    rows = []
    for rel, error_p, offset in (("v1", 0.02, 0), ("v2", 0.15, 2000)):
        for i in range(300):
            ev = LLMCallEvent(
                event_id=f"{rel}-{i}",
                app="bot",
                release=rel,
                start_time=t0 + timedelta(seconds=offset + i),
                duration_ms=300.0,
                http_status=500 if rng.random() < error_p else 200,
            )
            rows.append(event_row(ev, cost_usd=0.001))
    writer = BatchWriter(
        store_client, "events", database=store_database, batch_rows=1000, flush_interval_s=60
    )
    writer.add(rows)
    writer.flush()
    [rule] = parse_rules({"rules": [RULE]})
    ev = RuleEvaluator([rule])
    ev.release_source = lambda: [compare_releases(store_client, store_database, "bot", "v2", "v1")]
    (result,) = ev.evaluate(NOW)
    assert result.breached and result.top[0][0] == {
        "app": "bot",
        "metric": "error_rate",
        "release": "v2",
        "against": "v1",
    }
    sql = render_sql(rule, {"app": "bot"}, NOW, NOW, store_database)
    releases = [r[1] for r in store_client.query(sql).result_rows]
    assert releases == ["v1", "v2"]


def test_the_alert_stage_reads_release_comparisons_from_its_store(
    store_client: Any, store_database: str
) -> None:
    from lightkeeper.alerts.lifecycle import AlertEngine
    from lightkeeper.worker.alert_stage import AlertStage

    stage = AlertStage(AlertEngine(parse_rules({"rules": [RULE]}), database=store_database))
    assert stage.engine.evaluator.release_source is None
    stage.attach_store(store_client, store_database)
    assert stage.engine.evaluator.release_source() == []  # no app with two releases yet
    plain = AlertStage(AlertEngine(parse_rules({"rules": [{**RULE, "series": "model", "metric": "errors"}]})))
    plain.attach_store(store_client, store_database)
    assert plain.engine.evaluator.release_source is None
