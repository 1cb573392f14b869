"""The demo in its short mode: it runs end to end and its summary matches SQL over the store."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from lightkeeper.demo import DemoOptions, counts, plan, run


def test_the_plan_holds_every_incident_even_when_short() -> None:
    kinds = counts(plan(200))
    for kind in (
        "toxic_prompt",
        "toxic_response",
        "injection",
        "error",
        "ungrounded",
        "drift",
        "cost_spike",
        "unknown_model",
        "rag",
        "pii",
    ):
        assert kinds.get(kind, 0) >= 1, kind
    assert sum(kinds.values()) == 200
    assert plan(200) == plan(200)  # deterministic


async def test_quick_demo_summary_matches_the_store(
    tmp_path: Path, store_url: str, store_database: str, store_client: Any, capsys: Any
) -> None:
    options = DemoOptions(
        events=120,
        store_url=store_url,
        database=store_database,
        data_dir=tmp_path,
        latency_ms=5,
        progress=True,
    )
    summary = await run(options, client=store_client, stages=[])
    printed = capsys.readouterr()
    assert "Lightkeeper demo summary" in printed.out and "lightkeeper sql" in printed.out
    assert "calls 120/120" in printed.out + printed.err  # progress was shown

    db = store_database
    run_filter = f"tags['demo_run'] = '{summary.run_id}'"
    n, errors, cost, unpriced = store_client.query(
        f"SELECT count(), countIf(is_error = 1), sum(cost_usd), countIf(cost_usd IS NULL) "
        f"FROM {db}.events_dedup WHERE {run_filter}"
    ).result_rows[0]
    assert summary.requests == n == 120
    assert (summary.errors, summary.cost_usd, summary.unpriced) == (errors, cost, unpriced)
    assert 1 <= errors < n // 10 and unpriced >= 1 and cost > 0  # only the planned provider errors
    assert summary.output_tokens > 0
    from lightkeeper.demo._scenario import TOXIC_ANSWER

    scripted = store_client.query(
        f"SELECT countIf(output_text = {{t:String}}) FROM {db}.events_dedup WHERE {run_filter}",
        parameters={"t": TOXIC_ANSWER},
    ).result_rows[0][0]
    assert scripted >= 1  # the simulated provider answered the scripted (toxic) reply
    by_app = dict(
        store_client.query(
            f"SELECT app, count() FROM {db}.events_dedup WHERE {run_filter} GROUP BY app"
        ).result_rows
    )
    assert {a: c for a, c, _, _ in summary.by_app} == by_app
    assert sum((c or Decimal(0)) for _, _, c, _ in summary.by_model) == cost
    top_user = summary.top_users[0][0]
    assert top_user == "mallory"  # the cost spike
    assert f"${cost:,.4f}" in printed.out

    # users' feedback: one item per rated call, joined with its call through the session
    rated = [c for c in plan(120) if c.feedback is not None]
    items, negative, unmatched, redacted = store_client.query(
        f"SELECT count(), sum(negative), sum(unmatched), countIf(comment LIKE '%555 0134%') "
        f"FROM {db}.feedback_events WHERE startsWith(session_id, {{run:String}})",
        parameters={"run": summary.run_id},
    ).result_rows[0]
    assert items == len(rated) and negative >= sum(1 for c in rated if c.feedback is False)
    assert unmatched == 0 and redacted == 0


async def test_demo_with_the_installed_stages_reports_what_the_store_holds(
    tmp_path: Path, store_url: str, store_database: str, store_client: Any
) -> None:
    """Scores, drift and alerts (whichever stages load here) appear in the summary exactly as
    SQL over the derived tables counts them."""
    options = DemoOptions(
        events=50,
        store_url=store_url,
        database=store_database,
        data_dir=tmp_path,
        latency_ms=5,
        progress=False,
    )
    summary = await run(options, client=store_client)
    db = store_database
    run_events = f"SELECT event_id FROM {db}.events_dedup WHERE tags['demo_run'] = '{summary.run_id}'"
    flagged = dict(
        store_client.query(
            f"SELECT detector, uniqExactIf(event_id, flagged = 1) FROM {db}.scores_dedup "
            f"WHERE event_id IN ({run_events}) GROUP BY detector"
        ).result_rows
    )
    assert summary.flagged == flagged
    assert summary.requests == 50
    alerts = store_client.query(f"SELECT uniqExact(rule, dedup_key) FROM {db}.alerts FINAL").result_rows[0][0]
    assert len(summary.alerts) == alerts
    drifted = store_client.query(
        f"SELECT uniqExact(app, model, target) FROM {db}.drift FINAL WHERE drifted = 1"
    ).result_rows[0][0]
    assert len(summary.drift) == drifted


def test_the_plan_rates_bad_answers_down() -> None:
    calls = plan(200)
    rated = [c for c in calls if c.feedback is not None]
    bad = [c for c in calls if c.kind in ("toxic_response", "ungrounded", "error")]
    assert rated and all(c.feedback is False for c in rated if c in bad)
    assert sum(1 for c in bad if c.feedback is False) >= len(bad) // 2
    assert any(c.feedback is True or isinstance(c.feedback, int) for c in rated if c not in bad)
    assert len({c.session for c in calls}) == 200
