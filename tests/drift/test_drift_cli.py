"""``lightkeeper drift check`` / ``drift report`` against the embedded store, and drift records
written to the store's ``drift`` table."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lightkeeper.cli.cmd_drift import parse_range
from lightkeeper.cli.main import main
from lightkeeper.errors import ConfigError
from lightkeeper.schemas.events import LLMCallEvent, Message, Output, Usage

# recent days: events older than the store's TTL (90 days by default) are dropped at insert
DAY1 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)


def _day(offset: int, at: str = "00:00") -> str:
    return f"{(DAY1 + timedelta(days=offset)).date().isoformat()}T{at}"


QUESTIONS = ["What is the capital of {}?", "Who founded {}?", "When was {} built?", "How big is {}?"]
PLACES = ["France", "Peru", "Kenya", "Norway", "Japan", "Chile", "Egypt", "Canada", "Spain", "India"]
CODE = ["Write a python function that {}.", "Fix this bug: {} raises KeyError", "Refactor {} into a class"]
TASKS = ["sorts a list", "parses json", "reads a csv", "merges dicts", "retries http calls", "caches results"]


def _events(n: int, start: datetime, shifted: bool, rng: random.Random) -> list[LLMCallEvent]:
    out = []
    for i in range(n):
        if shifted:
            prompt = rng.choice(CODE).format(rng.choice(TASKS))
            out_tokens = rng.randint(300, 900)
        else:
            prompt = rng.choice(QUESTIONS).format(rng.choice(PLACES))
            out_tokens = rng.randint(10, 80)
        t = start + timedelta(seconds=30 * i)
        out.append(
            LLMCallEvent(
                app="shop",
                request_model="gpt-x",
                start_time=t,
                end_time=t + timedelta(milliseconds=400),
                input_messages=[Message(role="user", content=prompt)],
                output=Output(text="answer " * 5),
                usage=Usage(input_tokens=len(prompt) // 4, output_tokens=out_tokens),
                finish_reasons=["stop"],
            )
        )
    return out


@pytest.fixture
def stored(store_client: Any, store_database: str) -> None:
    from lightkeeper.schemas.rows import event_row
    from lightkeeper.store.writer import BatchWriter

    rng = random.Random(3)
    events = _events(150, DAY1, False, rng) + _events(150, DAY1 + timedelta(days=1), True, rng)
    writer = BatchWriter(store_client, "events", database=store_database, batch_rows=1000)
    writer.write([event_row(ev) for ev in events])
    writer.close()


def _args(store_url: str, db: str, cur: str) -> list[str]:
    return [
        "--app",
        "shop",
        "--model",
        "gpt-x",
        "--reference",
        f"{_day(0)}..{_day(1)}",
        "--current",
        cur,
        "--url",
        store_url,
        "--database",
        db,
    ]


def test_drift_check_from_store(stored: None, store_url: str, store_database: str, capsys: Any) -> None:
    rc = main(
        ["drift", "check", *_args(store_url, store_database, f"{_day(1)}..{_day(2)}"), "--no-embeddings"]
    )
    assert rc == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 1  # --no-embeddings: metadata only
    meta = records[0]
    assert meta["target"].startswith("metadata:") and meta["drifted"]
    assert {"output_tokens", "input_tokens"} & set(meta["top_features"])
    assert meta["reference"]["size"] == 150 and meta["current"]["size"] == 150
    assert meta["examples"] and any(
        w in meta["examples"][0] for w in ("Write a python", "Fix this", "Refactor")
    )


def test_drift_check_same_distribution_is_quiet(
    stored: None, store_url: str, store_database: str, capsys: Any
) -> None:
    args = _args(store_url, store_database, f"{_day(0, '00:37:30')}..{_day(0, '01:15')}")
    args[args.index("--reference") + 1] = f"{_day(0)}..{_day(0, '00:37:30')}"
    assert main(["drift", "check", *args, "--no-embeddings"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records and not any(r["drifted"] for r in records)


def test_drift_report_from_store_with_embeddings(
    stored: None, store_url: str, store_database: str, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "r.html"
    args = _args(store_url, store_database, f"{_day(1)}..{_day(2)}")
    rc = main(["drift", "report", *args, "--out", str(out), "--limit", "60"])
    assert rc == 0
    assert str(out) in capsys.readouterr().out
    html = out.read_text(encoding="utf-8")
    assert "output_tokens" in html and "embedding_pc1" in html


def test_drift_cli_errors(store_url: str, store_database: str, capsys: Any) -> None:
    with pytest.raises(ConfigError):
        parse_range("2026-02-02")
    with pytest.raises(ConfigError):
        parse_range("2026-02-03..2026-02-02")
    now = datetime(2026, 5, 1, tzinfo=UTC)
    assert parse_range("-2d..now", now) == (now - timedelta(days=2), now)
    rc = main(
        ["drift", "check", *_args(store_url, store_database, f"{_day(2)}..{_day(3)}"), "--no-embeddings"]
    )
    assert rc == 1
    assert "only 0 events" in capsys.readouterr().err


def test_drift_records_fit_the_store(store_client: Any, store_database: str) -> None:
    from drift_synth import SyntheticStream

    from lightkeeper.processors.drift import DriftConfig, DriftMonitor
    from lightkeeper.schemas.rows import drift_row
    from lightkeeper.store.writer import BatchWriter

    cfg = DriftConfig.build({"windows": {"reference_size": 200, "current_size": 100, "step": 50}})
    stream = SyntheticStream(seed=2)
    mon = DriftMonitor(cfg)
    records = mon.observe(stream.take(0, 350)) + mon.observe(stream.take(1, 200))
    assert any(r.drifted for r in records)
    writer = BatchWriter(store_client, "drift", database=store_database, batch_rows=1000)
    writer.write([drift_row(r) for r in records])
    writer.close()
    n = store_client.query(f"SELECT count(), countIf(drifted = 1) FROM {store_database}.drift").result_rows[0]
    assert n == (len(records), sum(r.drifted for r in records))


def test_drift_check_all_models_of_the_app(
    stored: None, store_url: str, store_database: str, capsys: Any
) -> None:
    args = _args(store_url, store_database, f"{_day(1)}..{_day(2)}")
    i = args.index("--model")
    del args[i : i + 2]
    assert main(["drift", "check", *args, "--no-embeddings", "--limit", "100"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0]["model"] == "all" and records[0]["drifted"]
    assert records[0]["reference"]["size"] == 100
