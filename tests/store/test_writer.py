"""BatchWriter: batching, interval flushes, failures keep rows, rejected rows, backpressure."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest
from _store_events import make_event

from lightkeeper.errors import BackpressureError, SchemaError, StoreError, StoreUnavailable
from lightkeeper.schemas.rows import event_row
from lightkeeper.store.writer import BatchWriter, RowsRejected


class CountingClient:
    """Wraps a real client; counts insert_arrow calls and can be told to fail."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.inserts: list[int] = []
        self.fail = False

    def insert_arrow(self, table: str, arrow: Any, database: str) -> None:
        if self.fail:
            raise ConnectionError("store is down")
        self.inserts.append(arrow.num_rows)
        self.inner.insert_arrow(table, arrow, database=database)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _count(client: Any, db: str, table: str = "events") -> int:
    return int(client.query(f"SELECT count() FROM {db}.{table}").result_rows[0][0])


def test_flushes_in_batches_of_batch_rows(store_client, store_database):
    spy = CountingClient(store_client)
    writer = BatchWriter(spy, "events", database=store_database, batch_rows=100, flush_interval_s=60)
    rows = [event_row(make_event(i)) for i in range(250)]
    assert writer.add(rows[:99]) == 0  # below the size trigger: buffered
    assert spy.inserts == [] and writer.buffered == 99
    assert writer.add(rows[99:250]) == 250  # trigger reached: everything in batches of <= 100
    assert spy.inserts == [100, 100, 50]
    assert _count(store_client, store_database) == 250
    assert writer.stats.rows_written == 250 and writer.stats.batches_written == 3
    assert writer.stats.insert_seconds_total > 0


def test_interval_flush(store_client, store_database):
    spy = CountingClient(store_client)
    writer = BatchWriter(spy, "events", database=store_database, batch_rows=1000, flush_interval_s=0.05)
    writer.add([event_row(make_event(1))])
    assert writer.maybe_flush() == 0  # not due yet
    time.sleep(0.06)
    assert writer.maybe_flush() == 1
    assert spy.inserts == [1]
    writer.add([event_row(make_event(2))])
    time.sleep(0.06)
    assert writer.add([event_row(make_event(3))]) == 2  # add() also checks the interval
    assert writer.maybe_flush() == 0


def test_store_refusal_keeps_rows_for_retry(store_client, store_database):
    spy = CountingClient(store_client)
    writer = BatchWriter(spy, "events", database=store_database, batch_rows=10, flush_interval_s=60)
    spy.fail = True
    with pytest.raises(StoreUnavailable, match="rows kept"):
        writer.add([event_row(make_event(i)) for i in range(10)])
    assert writer.buffered == 10 and writer.stats.insert_failures == 1
    spy.fail = False
    assert writer.flush() == 10
    assert writer.buffered == 0
    assert _count(store_client, store_database) == 10


def test_bad_rows_are_handed_back_not_retried(store_client, store_database):
    writer = BatchWriter(store_client, "events", database=store_database, batch_rows=10, flush_interval_s=60)
    bad = event_row(make_event(1))
    bad["input_tokens"] = "many"
    with pytest.raises(RowsRejected, match="input_tokens") as info:
        writer.add([bad])
        writer.flush()
    assert info.value.rows == [bad]
    assert info.value.problems[0][0] == "input_tokens"
    assert writer.buffered == 0
    writer.add([event_row(make_event(2))])
    assert writer.flush() == 1


def test_unknown_column_is_a_schema_error(store_client, store_database):
    writer = BatchWriter(store_client, "scores", database=store_database)
    with pytest.raises(SchemaError, match="lacks: nope"):
        writer.write([{"event_id": "e", "nope": 1}])


def test_missing_table_is_a_clear_error(store_client, store_database):
    writer = BatchWriter(store_client, "no_such_table", database=store_database)
    with pytest.raises(StoreError, match="does not exist"):
        writer.write([{"x": 1}])


def test_lenient_types(store_client, store_database):
    row = event_row(make_event(1))
    row["streaming"] = True  # bool into UInt8
    row["cost_usd"] = 0.1  # float into Decimal
    row["cost_input_usd"] = "0.0000000015"  # string, rounded to 9 decimals
    BatchWriter(store_client, "events", database=store_database).write([row])
    got = store_client.query(
        f"SELECT streaming, cost_usd, cost_input_usd FROM {store_database}.events"
    ).result_rows
    assert got == [(1, Decimal("0.1"), Decimal("0.000000002"))]


def test_backpressure_refuses_without_taking_rows(store_client, store_database):
    spy = CountingClient(store_client)
    writer = BatchWriter(
        spy, "events", database=store_database, batch_rows=5, flush_interval_s=60, max_buffered_rows=8
    )
    spy.fail = True
    with pytest.raises(StoreUnavailable):
        writer.add([event_row(make_event(i)) for i in range(5)])
    with pytest.raises(BackpressureError):
        writer.add([event_row(make_event(i)) for i in range(5, 9)])
    assert writer.buffered == 5


def test_close_flushes_and_refuses_more(store_client, store_database):
    writer = BatchWriter(store_client, "events", database=store_database, batch_rows=100, flush_interval_s=60)
    writer.add([event_row(make_event(i)) for i in range(3)])
    writer.close()
    assert _count(store_client, store_database) == 3
    with pytest.raises(StoreError, match="closed"):
        writer.add([event_row(make_event(4))])


async def test_async_periodic_flush(store_client, store_database):
    writer = BatchWriter(
        store_client, "events", database=store_database, batch_rows=1000, flush_interval_s=0.05
    )
    task = asyncio.create_task(writer.flush_periodically())
    try:
        await writer.aadd([event_row(make_event(i)) for i in range(7)])
        for _ in range(100):
            if writer.stats.rows_written == 7:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
    assert writer.stats.rows_written == 7
    await writer.aclose()
    assert _count(store_client, store_database) == 7
