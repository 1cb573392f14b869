"""The one write path into the store: batch rows, insert them as Arrow tables.

Never one row per insert: :class:`BatchWriter` buffers row dicts and inserts a columnar batch
when ``batch_rows`` rows are buffered or the oldest buffered row is ``flush_interval_s`` old.

Flushing is driven by the caller, no hidden thread: :meth:`BatchWriter.add` flushes when a
trigger is reached, :meth:`BatchWriter.maybe_flush` checks the interval (poll it from a loop or
timer), and :meth:`BatchWriter.flush_periodically` is a ready-made asyncio task doing that polling
(inserts run in a worker thread so the event loop never blocks on the store). Methods are
thread-safe.

Failures: when the store refuses an insert, :class:`StoreUnavailable` is raised and the rows stay
buffered (retrying is the caller's decision: call :meth:`flush` again later). Rows that cannot be
converted to the table's column types are removed from the buffer and handed back in
:class:`RowsRejected` (``.rows``) so the caller can dead-letter them. When ``max_buffered_rows``
would be exceeded :meth:`add` raises :class:`BackpressureError` without taking the rows.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lightkeeper.errors import BackpressureError, SchemaError, StoreError, StoreUnavailable
from lightkeeper.store._arrow import arrow_type, to_table
from lightkeeper.store.client import check_identifier

log = logging.getLogger(__name__)


class RowsRejected(SchemaError):
    """Rows that cannot be stored as the table's column types; ``rows`` holds them."""

    def __init__(self, message: str, problems: list[tuple[str, str]], rows: list[dict[str, Any]]) -> None:
        super().__init__(message, problems)
        self.rows = rows


@dataclass
class WriterStats:
    """Counters a process can export as metrics."""

    rows_written: int = 0
    batches_written: int = 0
    insert_failures: int = 0
    rows_rejected: int = 0
    insert_seconds_total: float = 0.0
    last_insert_seconds: float = 0.0
    last_batch_rows: int = 0


def table_schema(client: Any, database: str, table: str) -> dict[str, pa.DataType]:
    """Column name -> Arrow type for ``database.table`` (raises StoreError if it does not exist)."""
    rows = client.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String} "
        "ORDER BY position",
        parameters={"db": database, "t": table},
    ).result_rows
    if not rows:
        raise StoreError(f"table {database}.{table} does not exist (run `lightkeeper migrate`)")
    return {str(name): arrow_type(str(typ)) for name, typ in rows}


class BatchWriter:
    """Buffers rows for one table and inserts them in Arrow batches."""

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        database: str = "lightkeeper",
        batch_rows: int = 5000,
        flush_interval_s: float = 1.0,
        max_buffered_rows: int | None = None,
    ) -> None:
        if batch_rows < 1 or flush_interval_s <= 0:
            raise ValueError("batch_rows must be >= 1 and flush_interval_s > 0")
        self.client = client
        self.table = check_identifier(table, "table")
        self.database = check_identifier(database)
        self.batch_rows = batch_rows
        self.flush_interval_s = flush_interval_s
        self.max_buffered_rows = max_buffered_rows or 20 * batch_rows
        self.stats = WriterStats()
        self._buffer: list[dict[str, Any]] = []
        self._oldest: float | None = None
        self._schema: dict[str, pa.DataType] | None = None
        self._lock = threading.RLock()
        self._closed = False

    # buffering -----------------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        """Rows waiting to be inserted."""
        return len(self._buffer)

    def add(self, rows: list[dict[str, Any]]) -> int:
        """Buffer ``rows``; flush if a trigger is reached. Returns the rows inserted now (0 if
        none). On :class:`StoreUnavailable` the rows are buffered already: do not add them again."""
        if not rows:
            return self.maybe_flush()
        with self._lock:
            if self._closed:
                raise StoreError(f"writer for {self.database}.{self.table} is closed")
            if len(self._buffer) + len(rows) > self.max_buffered_rows:
                raise BackpressureError(
                    f"{self.database}.{self.table}: {len(self._buffer)} rows already buffered "
                    f"(max {self.max_buffered_rows}); the store is not keeping up"
                )
            if self._oldest is None:
                self._oldest = time.monotonic()
            self._buffer.extend(rows)
            if len(self._buffer) >= self.batch_rows or self._due():
                return self.flush()
            return 0

    def _due(self) -> bool:
        return self._oldest is not None and time.monotonic() - self._oldest >= self.flush_interval_s

    def maybe_flush(self) -> int:
        """Flush if the oldest buffered row waited ``flush_interval_s``; returns rows inserted."""
        with self._lock:
            if self._buffer and self._due():
                return self.flush()
            return 0

    def flush(self) -> int:
        """Insert everything buffered, in batches of at most ``batch_rows``; returns rows inserted.

        Raises :class:`StoreUnavailable` (rows not yet inserted stay buffered) or
        :class:`RowsRejected` (the offending batch is removed and returned)."""
        written = 0
        with self._lock:
            while self._buffer:
                batch = self._buffer[: self.batch_rows]
                try:
                    self.write(batch)
                except RowsRejected:
                    del self._buffer[: len(batch)]
                    self._reset_clock()
                    raise
                del self._buffer[: len(batch)]
                written += len(batch)
            self._reset_clock()
        return written

    def _reset_clock(self) -> None:
        self._oldest = time.monotonic() if self._buffer else None

    # inserting -----------------------------------------------------------------------------
    def write(self, batch: list[dict[str, Any]]) -> int:
        """Insert ``batch`` now as one Arrow batch (bypassing the buffer); returns its size."""
        if not batch:
            return 0
        with self._lock:
            return self._write_locked(batch)

    def _write_locked(self, batch: list[dict[str, Any]]) -> int:
        if self._schema is None:
            try:
                self._schema = table_schema(self.client, self.database, self.table)
            except StoreError:
                raise
            except Exception as exc:
                raise StoreUnavailable(
                    f"cannot read the columns of {self.database}.{self.table}: {exc}"
                ) from exc
        try:
            arrow = to_table(batch, self._schema)
        except SchemaError as exc:
            self.stats.rows_rejected += len(batch)
            raise RowsRejected(f"{self.database}.{self.table}: {exc}", exc.problems, list(batch)) from None
        started = time.perf_counter()
        try:
            self.client.insert_arrow(self.table, arrow, database=self.database)
        except Exception as exc:
            self.stats.insert_failures += 1
            raise StoreUnavailable(
                f"insert of {len(batch)} rows into {self.database}.{self.table} failed (rows kept): {exc}"
            ) from exc
        elapsed = time.perf_counter() - started
        self.stats.rows_written += len(batch)
        self.stats.batches_written += 1
        self.stats.insert_seconds_total += elapsed
        self.stats.last_insert_seconds = elapsed
        self.stats.last_batch_rows = len(batch)
        return len(batch)

    def close(self) -> None:
        """Flush what is buffered and refuse further rows (raises like :meth:`flush`)."""
        with self._lock:
            self.flush()
            self._closed = True

    # asyncio helpers -----------------------------------------------------------------------
    async def aadd(self, rows: list[dict[str, Any]]) -> int:
        """:meth:`add` in a worker thread."""
        return await asyncio.to_thread(self.add, rows)

    async def aflush(self) -> int:
        """:meth:`flush` in a worker thread."""
        return await asyncio.to_thread(self.flush)

    async def flush_periodically(self) -> None:
        """Run until cancelled: every half interval, flush if due. Store failures are logged and
        the rows kept for the next round; rejected rows are logged and dropped."""
        while True:
            await asyncio.sleep(self.flush_interval_s / 2)
            try:
                await asyncio.to_thread(self.maybe_flush)
            except StoreUnavailable as exc:
                log.warning("%s", exc)
            except RowsRejected as exc:
                log.error("dropping %d rows: %s", len(exc.rows), exc)

    async def aclose(self) -> None:
        """:meth:`close` in a worker thread."""
        await asyncio.to_thread(self.close)
