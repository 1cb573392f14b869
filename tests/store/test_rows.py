"""Row builders cover the tables' columns and store every record faithfully."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from _store_events import make_event

from lightkeeper.errors import SchemaError
from lightkeeper.schemas.records import (
    AlertRecord,
    AnomalyRecord,
    Detector,
    DriftRecord,
    ScoreRecord,
    WindowBounds,
)
from lightkeeper.schemas.rows import (
    EVENT_COLUMNS,
    alert_row,
    anomaly_row,
    drift_row,
    event_row,
    score_row,
    usd,
)
from lightkeeper.store.writer import BatchWriter

NOW = datetime.now(UTC).replace(microsecond=0)


def _columns(client, db: str, table: str) -> set[str]:
    rows = client.query(
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        parameters={"db": db, "t": table},
    ).result_rows
    return {r[0] for r in rows} - {"ingested_at"}


def _records():
    window = WindowBounds(start=NOW - timedelta(hours=2), end=NOW - timedelta(hours=1), size=500)
    return {
        "scores": score_row(
            ScoreRecord(
                event_id="e1",
                detector=Detector.HALLUCINATION,
                score=0.75,
                flagged=True,
                threshold=0.5,
                details={"claims": 3},
                model_version="v2",
                app="chat",
                environment="test",
                request_model="gpt-4o",
                event_time=NOW,
            )
        ),
        "drift": drift_row(
            DriftRecord(
                app="chat",
                model="gpt-4o",
                target="prompt_embedding",
                method="mmd",
                score=0.3,
                threshold=0.1,
                p_value=0.01,
                drifted=True,
                reference=window,
                current=window,
                top_features=["len"],
                examples=["hi"],
                detected_at=NOW,
            )
        ),
        "anomalies": anomaly_row(
            AnomalyRecord(
                app="chat",
                model="gpt-4o",
                user_id="u1",
                metric="cost_usd",
                window_start=NOW,
                expected=1.0,
                actual=9.0,
                score=8.0,
                severity="high",
                detector="zscore",
                details={"z": 8},
            )
        ),
        "alerts": alert_row(
            AlertRecord(
                rule="cost",
                dedup_key="cost/chat",
                state="firing",
                labels={"app": "chat"},
                value=9.0,
                threshold=5.0,
                summary="cost spike",
                route="slack",
                delivery_status="sent",
                attempts=1,
                started_at=NOW,
                updated_at=NOW,
            )
        ),
    }


def test_event_row_fills_every_column(store_client, store_database):
    assert set(EVENT_COLUMNS) == _columns(store_client, store_database, "events")


@pytest.mark.parametrize("table", ["scores", "drift", "anomalies", "alerts"])
def test_record_rows_fill_every_column_and_store(store_client, store_database, table):
    row = _records()[table]
    assert set(row) == _columns(store_client, store_database, table)
    BatchWriter(store_client, table, database=store_database).write([row])
    got = store_client.query(f"SELECT count() FROM {store_database}.{table}").result_rows[0][0]
    assert got == 1


def test_event_round_trips_through_the_store(store_client, store_database):
    ev = make_event(3, future_field={"x": 1})
    row = event_row(
        ev,
        cost_usd=Decimal("0.001234567"),
        cost_input_usd=0.001,
        pricing_version="2026-01",
        cost_unknown_model=False,
    )
    BatchWriter(store_client, "events", database=store_database).write([row])
    got = store_client.query(f"SELECT * FROM {store_database}.events_dedup").named_results()
    (stored,) = list(got)
    assert stored["event_id"] == ev.event_id and stored["model"] == "gpt-4o"
    assert stored["input_tokens"] == 103 and stored["cache_read_input_tokens"] == 0
    assert stored["cost_usd"] == Decimal("0.001234567") and stored["cost_input_usd"] == Decimal("0.001")
    assert stored["pricing_version"] == "2026-01"
    assert stored["tags"] == {"team": "search", "tier": "1"}
    assert orjson.loads(stored["input_messages"])[1] == {
        "role": "user",
        "content": "Question 3?",
        "tool_calls": [],
    }
    assert orjson.loads(stored["output_tool_calls"]) == [{"name": "lookup", "arguments": '{"q": 1}'}]
    assert orjson.loads(stored["context_documents"]) == [{"text": "Paris is in France.", "id": "d1"}]
    assert orjson.loads(stored["extra"]) == {"future_field": {"x": 1}}
    assert stored["finish_reasons"] == ["stop"] and stored["stop_sequences"] == ["END"]
    assert stored["duration_ms"] == pytest.approx(130.0)
    start = stored["start_time"]
    assert start.replace(tzinfo=UTC) == ev.start_time


def test_event_without_optionals():
    from lightkeeper.schemas.events import LLMCallEvent

    row = event_row(LLMCallEvent())
    assert row["request_model"] == "" and row["model"] == "unknown"
    assert row["input_tokens"] is None and row["cost_usd"] is None
    assert row["context_documents"] is None and row["extra"] == ""


def test_enrichment_is_checked():
    ev = make_event(1)
    with pytest.raises(SchemaError, match="unknown enrichment column"):
        event_row(ev, cost=1)
    with pytest.raises(SchemaError, match="within"):
        event_row(ev, cost_usd=-1)
    for bad in ("abc", float("nan"), float("inf"), 1e30):
        with pytest.raises(SchemaError, match="invalid cost"):
            event_row(ev, cost_usd=bad)


def test_usd_quantizes_to_nano_dollars():
    assert usd(0.1) == Decimal("0.100000000")
    assert usd("1.0000000004") == Decimal("1.000000000")
    assert usd(None) is None
