"""Per-minute series from events and scores (event time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lightkeeper.processors.anomaly import MinuteAggregator
from lightkeeper.schemas.events import LLMCallEvent, Usage
from lightkeeper.schemas.records import ScoreRecord

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def _ev(
    sec: float,
    *,
    user: str = "u1",
    error: bool = False,
    ms: float = 100.0,
    team: str | None = None,
    model: str = "gpt-x",
) -> LLMCallEvent:
    return LLMCallEvent(
        app="chat",
        request_model=model,
        user_id=user,
        start_time=T0 + timedelta(seconds=sec),
        duration_ms=ms,
        usage=Usage(input_tokens=10, output_tokens=5),
        error_type="timeout" if error else None,
        tags={"team": team} if team else {},
    )


def _by(points, metric, series="model"):
    return {
        (p.minute, tuple(sorted(p.labels.items()))): p
        for p in points
        if p.metric == metric and p.series == series
    }


def test_minutes_close_after_lateness_and_metrics():
    agg = MinuteAggregator(lateness=timedelta(seconds=30), tag_series=("team",))
    agg.add_events(
        [_ev(1), _ev(20, error=True, ms=300), _ev(40, user="u2", team="search")], [0.01, 0.02, None]
    )
    assert agg.flush() == []
    agg.add_event(_ev(85))  # watermark 10:01:25 < 10:01:30: minute 10:00 still open
    assert agg.flush() == []
    agg.add_event(_ev(95))
    pts = agg.flush()
    assert {p.minute for p in pts} == {T0}
    m = {p.metric: p for p in pts if p.series == "model"}
    assert m["requests"].value == 3 and m["errors"].value == 1
    assert abs(m["error_rate"].value - 1 / 3) < 1e-9 and m["error_rate"].weight == 3
    assert abs(m["cost_usd"].value - 0.03) < 1e-12 and m["tokens"].value == 45
    assert m["latency_p95_ms"].samples == (100.0, 300.0, 100.0) and m["latency_p95_ms"].value > 250
    users = _by(pts, "requests", "user")
    assert users[(T0, (("app", "chat"), ("user_id", "u1")))].value == 2
    team = _by(pts, "cost_usd", "tag:team")
    assert next(iter(team.values())).labels == {"app": "chat", "team": "search"}


def test_scores_make_quality_rates_and_late_data_is_additive():
    agg = MinuteAggregator()
    agg.add_event(_ev(5))
    recs = [
        ScoreRecord(
            event_id=f"e{i}",
            detector="toxicity_response",
            score=0.9 if i < 2 else 0.1,
            flagged=i < 2,
            app="chat",
            request_model="gpt-x",
            event_time=T0 + timedelta(seconds=i),
        )
        for i in range(8)
    ]
    agg.add_scores(recs)
    agg.add_score(ScoreRecord(event_id="h", detector="hallucination", score=None, app="chat", event_time=T0))
    pts = agg.flush(T0 + timedelta(minutes=3))
    tox = [p for p in pts if p.metric == "toxicity_rate"]
    assert len(tox) == 1 and tox[0].value == 0.25 and tox[0].weight == 8
    assert not [p for p in pts if p.metric.startswith("hallucination")]  # None scores don't count
    agg.add_event(_ev(30))  # late: minute 10:00 re-opens and is emitted again (additively)
    late = agg.flush_all()
    assert [p.value for p in late if p.metric == "requests" and p.series == "model"] == [1]


def test_snapshot_does_not_close_minutes():
    agg = MinuteAggregator()
    agg.add_event(_ev(5))
    snap = agg.snapshot()
    assert [p.value for p in snap if p.metric == "requests" and p.series == "model"] == [1]
    assert agg.open_minutes() == 1


def test_user_cardinality_capped():
    agg = MinuteAggregator(max_keys=5)
    for i in range(50):
        agg.add_event(_ev(1, user=f"u{i}"))
    pts = agg.flush_all()
    users = {p.labels["user_id"] for p in pts if p.series == "user"}
    assert "__other__" in users and len(users) <= 6
