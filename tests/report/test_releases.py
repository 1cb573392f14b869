"""Release comparison: significant regressions are found, equal releases are not told apart,
small samples are not called significant, the CLI reports and fails on regressions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from lightkeeper.cli.main import main
from lightkeeper.report.releases import compare_proportions, compare_releases, compare_samples
from lightkeeper.schemas.events import LLMCallEvent
from lightkeeper.schemas.rows import event_row
from lightkeeper.store.writer import BatchWriter

T0 = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def _seed(client: Any, db: str) -> None:
    rng = random.Random(3)
    rows, scores = [], []
    for rel, cost, latency, error_p, flag_p in (
        ("v1", 0.001, 400.0, 0.02, 0.05),
        ("v2", 0.0015, 520.0, 0.12, 0.20),
    ):
        for i in range(400):
            ev = LLMCallEvent(
                event_id=f"{rel}-{i}",
                app="bot",
                release=rel,
                start_time=T0 + timedelta(seconds=i + (0 if rel == "v1" else 1000)),
                duration_ms=rng.gauss(latency, 60),
                http_status=500 if rng.random() < error_p else 200,
            )
            rows.append(event_row(ev, cost_usd=cost * rng.uniform(0.8, 1.2)))
            scores.append(
                [ev.event_id, "toxicity_response", 0.5, int(rng.random() < flag_p), "bot", ev.start_time]
            )
            scores.append([ev.event_id, "pii_prompt", 0.1, int(rng.random() < 0.1), "bot", ev.start_time])
    writer = BatchWriter(client, "events", database=db, batch_rows=1000, flush_interval_s=60)
    writer.add(rows)
    writer.flush()
    client.insert(
        f"{db}.scores",
        [[*s, s[-1]] for s in scores],
        column_names=["event_id", "detector", "score", "flagged", "app", "event_time", "scored_at"],
    )


def test_a_worse_release_is_significantly_worse(store_client: Any, store_database: str) -> None:
    _seed(store_client, store_database)
    cmp = compare_releases(store_client, store_database, "bot", "v2", "v1")
    for name in (
        "cost_per_call_usd",
        "latency_p50_ms",
        "latency_p95_ms",
        "error_rate",
        "flag_rate:toxicity_response",
    ):
        m = cmp.metric(name)
        assert m.worse, name
        assert m.ci_low is not None and m.ci_high is not None and 0 < m.ci_low <= m.diff <= m.ci_high, name
    assert cmp.metric("cost_per_call_usd").relative == pytest.approx(0.5, abs=0.1)
    assert not cmp.metric("flag_rate:pii_prompt").significant  # same 10 % in both
    assert cmp.metric("drift_rate").n == 0 and not cmp.metric("drift_rate").significant
    back = compare_releases(store_client, store_database, "bot", "v1", "v2")
    assert not any(m.worse for m in back.metrics) and back.metric("error_rate").significant


def test_statistics_are_careful_with_small_or_equal_samples() -> None:
    rng = np.random.default_rng(0)
    same = compare_samples("x", rng.normal(1, 0.2, 300), rng.normal(1, 0.2, 300), np.mean)
    assert not same.significant and same.ci_low < 0 < same.ci_high
    tiny = compare_proportions("e", 2, 10, 0, 10)
    assert not tiny.reliable and not tiny.significant
    assert compare_proportions("e", 0, 0, 1, 10).value is None


def test_cli_reports_and_fails_on_regression(
    store_url: str, store_client: Any, store_database: str, capsys
) -> None:
    _seed(store_client, store_database)
    base = ["compare", "--url", store_url, "--database", store_database, "--app", "bot"]
    assert main([*base, "--release", "v2", "--against", "v1"]) == 0
    out = capsys.readouterr().out
    assert (
        "error_rate" in out
        and "WORSE (significant)" in out
        and "significantly worse on: cost_per_call_usd" in out
    )
    assert main([*base, "--release", "v2", "--against", "v1", "--fail-on-regression"]) == 3
    capsys.readouterr()
    assert main([*base, "--release", "v3", "--against", "v1"]) == 1
    assert "no calls of app 'bot' with release 'v3'" in capsys.readouterr().err


def test_the_demo_shows_a_release_regression(demo_filled_store: tuple[Any, str]) -> None:
    from lightkeeper.demo._scenario import RELEASES

    client, database = demo_filled_store
    releases = {
        r[0] for r in client.query(f"SELECT DISTINCT release FROM {database}.events_dedup").result_rows
    }
    assert set(RELEASES) <= releases
    cmp = compare_releases(client, database, "code-assistant", RELEASES[1], RELEASES[0])
    assert cmp.metric("cost_per_call_usd").worse  # the cost spike shipped with the new release
