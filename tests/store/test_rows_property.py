"""Property: any valid event (within the column ranges) is stored and read back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightkeeper.schemas.events import LLMCallEvent, Message, Output, Usage
from lightkeeper.schemas.rows import event_row
from lightkeeper.store.writer import BatchWriter

NOW = datetime.now(UTC).replace(microsecond=0)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
labels = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
tokens = st.none() | st.integers(min_value=0, max_value=2**32 - 1)

events = st.builds(
    LLMCallEvent,
    app=labels,
    user_id=st.none() | texts,
    route=st.none() | texts,
    request_model=st.none() | labels,
    usage=st.builds(Usage, input_tokens=tokens, output_tokens=tokens, estimated=st.booleans()),
    start_time=st.integers(min_value=0, max_value=10 * 24 * 3600 * 1000).map(
        lambda ms: NOW - timedelta(milliseconds=ms)
    ),
    duration_ms=st.none() | st.floats(min_value=0, max_value=1e7, allow_nan=False),
    http_status=st.none() | st.integers(min_value=100, max_value=599),
    input_messages=st.lists(
        st.builds(Message, role=st.sampled_from(["user", "system"]), content=texts), max_size=3
    ),
    output=st.builds(Output, text=st.none() | texts),
    tags=st.dictionaries(labels, texts, max_size=3),
    metadata=st.dictionaries(labels, st.integers() | texts, max_size=2),
    finish_reasons=st.lists(labels, max_size=2),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(events, min_size=1, max_size=5, unique_by=lambda e: e.event_id))
def test_valid_events_store_and_read_back(store_client, store_database, batch):
    BatchWriter(store_client, "events", database=store_database).write([event_row(ev) for ev in batch])
    ids = [ev.event_id for ev in batch]
    got = {
        r["event_id"]: r
        for r in store_client.query(
            f"SELECT * FROM {store_database}.events_dedup WHERE event_id IN {{ids:Array(String)}}",
            parameters={"ids": ids},
        ).named_results()
    }
    assert set(got) == set(ids)
    for ev in batch:
        row = got[ev.event_id]
        assert row["app"] == ev.app and row["user_id"] == (ev.user_id or "")
        assert row["input_tokens"] == ev.usage.input_tokens and row["tokens_estimated"] == int(
            ev.usage.estimated
        )
        assert row["tags"] == ev.tags and row["finish_reasons"] == ev.finish_reasons
        assert row["output_text"] == (ev.output.text or "")
        assert orjson.loads(row["metadata"]) == ev.metadata
        assert [m["content"] for m in orjson.loads(row["input_messages"])] == [
            m.content for m in ev.input_messages
        ]
        stored = row["start_time"].replace(tzinfo=UTC)
        assert abs(stored - ev.start_time) < timedelta(milliseconds=1)
