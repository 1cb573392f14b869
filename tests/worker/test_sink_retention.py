"""The worker stores only rows the store keeps: events older than the ``events`` TTL or outside
the store's time range become dead letters with the reason, and the stored count is the rows
actually in the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from lightkeeper.processors.pipeline import Pipeline, RawEvent
from lightkeeper.processors.sink import Sink
from tests.worker.helpers import raw


async def test_rows_the_store_would_drop_are_dead_letters_and_not_counted_stored(
    store_client: Any, store_database: str
) -> None:
    now = datetime.now(UTC)
    far = orjson.loads(raw(3))
    far["start_time"] = "2400-01-01T00:00:00Z"  # past DateTime64's range
    values = [
        raw(1, start_time=now - timedelta(hours=1)),
        raw(2, start_time=datetime(1970, 1, 2, tzinfo=UTC)),  # decades past the 90-day TTL
        orjson.dumps(far),
        raw(4, start_time=now - timedelta(days=91)),
        raw(5, start_time=now - timedelta(days=89)),
    ]
    batch = Pipeline().process([RawEvent(v, None, "t", 0, i) for i, v in enumerate(values)])
    sink = Sink(store_client, database=store_database)
    assert await sink.store(batch)
    reasons = {d.offset: (d.stage, d.reason) for d in batch.dead}
    assert set(reasons) == {1, 2, 3}
    assert reasons[1][0] == "store" and "older than the events TTL (90 days)" in reasons[1][1]
    assert reasons[3][0] == "store" and "older than the events TTL" in reasons[3][1]
    assert reasons[2][0] == "decode" and "outside the range the store can keep" in reasons[2][1]
    store_client.command(f"OPTIMIZE TABLE {store_database}.events FINAL")  # applies the TTL now
    ids = [r[0] for r in store_client.query(f"SELECT event_id FROM {store_database}.events").result_rows]
    assert sorted(ids) == ["00000000-0000-7000-8000-000000000001", "00000000-0000-7000-8000-000000000005"]
    stored = sink.metrics.value("lightkeeper_worker_events_total", {"outcome": "stored"})
    assert stored == len(ids) == len(batch.events)
    assert stored + len(batch.dead) == len(values)  # nothing lost silently
