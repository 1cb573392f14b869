"""The idempotent sink: a processed :class:`Batch` goes into the store through the one writer
(:class:`lightkeeper.store.writer.BatchWriter`), table by table.

* A batch is inserted as a whole, before its inputs are acknowledged (the shells commit
  offsets only after :meth:`Sink.store` returned): at-least-once. Redelivered events collapse
  in the ReplacingMergeTree tables and the ``*_dedup`` views.
* Store unavailable (:class:`StoreUnavailable`): :meth:`Sink.store` backs off exponentially,
  calls ``on_pause`` (the shell stops consuming) and retries the same rows until they are in;
  tables already written in this batch are not written again. Nothing is dropped.
* The store refusing some rows (a :class:`SchemaError` / :class:`StoreError` that is not
  unavailability): the rows are bisected until the refused ones are found; those events become
  dead letters (stage ``store``) and the rest is stored.
* Events the store would delete on arrival (``start_time`` older than the ``events`` table's
  TTL, read from the table every 10 minutes) are not inserted: they become dead letters (stage ``store``)
  with the reason. So the stored count is the rows actually kept.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from lightkeeper.errors import LightkeeperError, StoreError, StoreUnavailable
from lightkeeper.processors.metrics import WorkerMetrics
from lightkeeper.processors.pipeline import EVENTS_TABLE, Batch, DeadLetter

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None] | None]
_TTL_REREAD_S = 600.0
"""How long the ``events`` table's TTL read from the store is trusted (it changes on migrate)."""


class Sink:
    """Writes batches to the store (one :class:`BatchWriter` per table)."""

    def __init__(
        self,
        client: Any,
        *,
        database: str = "lightkeeper",
        metrics: WorkerMetrics | None = None,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
    ) -> None:
        self.client = client
        self.database = database
        self.metrics = metrics or WorkerMetrics()
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self._writers: dict[str, Any] = {}
        self._events_ttl_days: int | None = None
        self._ttl_read_at = 0.0
        self._lock = threading.Lock()
        """One insert at a time per sink (its agents share one store client)."""

    def _writer(self, table: str) -> Any:
        writer = self._writers.get(table)
        if writer is None:
            from lightkeeper.store.writer import BatchWriter

            writer = BatchWriter(
                self.client, table, database=self.database, batch_rows=1_000_000, flush_interval_s=3600
            )
            self._writers[table] = writer
        return writer

    # -- synchronous core -------------------------------------------------------------------
    def write(self, batch: Batch, done: set[str] | None = None) -> None:
        """Insert every table's rows of ``batch`` now. ``done`` collects the tables written
        (skipped on a retry). Raises :class:`StoreUnavailable`; refused rows become dead
        letters in ``batch.dead``."""
        done = done if done is not None else set()
        tables = [EVENTS_TABLE, *(t for t in batch.rows if t != EVENTS_TABLE)]
        with self._lock:
            for table in tables:
                if table in done:
                    continue
                if table == EVENTS_TABLE:
                    self._dead_expired(batch)
                rows = batch.rows.get(table) or []
                if rows:
                    self._insert_table(batch, table, rows)
                done.add(table)

    def _ttl_days(self) -> int:
        if self._events_ttl_days is None or time.monotonic() - self._ttl_read_at > _TTL_REREAD_S:
            from lightkeeper.store._ttl import current_ttl_days

            try:
                self._events_ttl_days = current_ttl_days(self.client, self.database, EVENTS_TABLE)
                self._ttl_read_at = time.monotonic()
            except Exception as exc:
                raise StoreUnavailable(
                    f"cannot read the TTL of {self.database}.{EVENTS_TABLE}: {exc}"
                ) from exc
        return self._events_ttl_days

    def _dead_expired(self, batch: Batch) -> None:
        """Dead-letter the events whose ``start_time`` is already past the table's TTL."""
        rows = batch.rows.get(EVENTS_TABLE) or []
        days = self._ttl_days() if rows else 0
        if days <= 0:
            return
        cutoff = datetime.now(UTC) - timedelta(days=days)
        expired = {i: row["start_time"] for i, row in enumerate(rows) if row["start_time"] <= cutoff}
        if not expired:
            return
        for index, start in expired.items():
            reason = (
                f"start_time {start.isoformat()} is older than the events TTL ({days} days): "
                "the store would delete the row on arrival"
            )
            batch.dead.append(DeadLetter.of(batch.sources[index], reason, "store"))
        batch.drop_event_rows(set(expired))

    def _insert_table(self, batch: Batch, table: str, rows: list[dict[str, Any]]) -> None:
        started = time.perf_counter()
        try:
            self._writer(table).write(rows)
        except StoreUnavailable:
            raise
        except (StoreError, LightkeeperError, ValueError, TypeError) as exc:
            log.warning(
                "store refused a batch of %d %s rows (%s); isolating the bad rows", len(rows), table, exc
            )
            bad = self._isolate(table, rows)
            self._dead_rows(batch, table, rows, bad)
        finally:
            self.metrics.insert_seconds.labels(table).observe(time.perf_counter() - started)

    def _isolate(self, table: str, rows: list[dict[str, Any]]) -> dict[int, str]:
        """Insert ``rows`` in halves until the refused rows are found; returns index -> reason.
        Rows that are accepted on the way are stored."""
        bad: dict[int, str] = {}
        pending: list[tuple[int, list[dict[str, Any]]]] = [(0, rows)]
        while pending:
            start, chunk = pending.pop()
            try:
                self._writer(table).write(chunk)
            except StoreUnavailable:
                raise
            except (StoreError, LightkeeperError, ValueError, TypeError) as exc:
                if len(chunk) == 1:
                    bad[start] = f"store refused the row: {exc}"
                else:
                    mid = len(chunk) // 2
                    pending.append((start + mid, chunk[mid:]))
                    pending.append((start, chunk[:mid]))
        return bad

    def _dead_rows(self, batch: Batch, table: str, rows: list[dict[str, Any]], bad: dict[int, str]) -> None:
        if not bad:
            return
        if table == EVENTS_TABLE:
            for index, reason in bad.items():
                batch.dead.append(DeadLetter.of(batch.sources[index], reason, "store"))
            batch.drop_event_rows(set(bad))
        else:
            for index, reason in bad.items():
                log.error("store refused a %s row %r: %s", table, rows[index], reason)
                self.metrics.stage_errors.labels(f"store:{table}").inc()

    # -- the retrying loop ------------------------------------------------------------------
    async def store(
        self,
        batch: Batch,
        *,
        on_pause: Hook | None = None,
        on_resume: Hook | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> bool:
        """Write ``batch`` (in a worker thread), retrying with exponential back-off while the
        store is unavailable. Returns True once stored; False only when ``should_stop()``
        became true before that (the caller must then NOT acknowledge the batch)."""
        done: set[str] = set()
        delay = self.retry_initial_s
        paused = False
        try:
            while True:
                try:
                    await asyncio.to_thread(self.write, batch, done)
                    break
                except StoreUnavailable as exc:
                    self.metrics.store_retries.inc()
                    if not paused:
                        paused = True
                        self.metrics.paused.set(1)
                        log.warning(
                            "store unavailable (%s): pausing consumption, retrying in %.1fs", exc, delay
                        )
                        await _call(on_pause)
                    if should_stop is not None and should_stop():
                        return False
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max_s)
        finally:
            if paused:
                self.metrics.paused.set(0)
                await _call(on_resume)
        stored = len(batch.events)
        self.metrics.observe_stored(stored)
        self.metrics.batch_size.observe(batch.size)
        for letter in batch.dead:
            self.metrics.dead_letters.labels(letter.stage).inc()
        self.metrics.events.labels("dead_letter").inc(len(batch.dead))
        if batch.context.erased_dropped:
            self.metrics.events.labels("erased").inc(batch.context.erased_dropped)
        for stage in batch.stage_errors:
            self.metrics.stage_errors.labels(stage).inc()
        return True

    def close(self) -> None:
        for writer in self._writers.values():
            try:
                writer.close()
            except Exception:
                log.debug("closing writer failed", exc_info=True)
        self._writers.clear()


async def _call(hook: Hook | None) -> None:
    if hook is None:
        return
    result = hook()
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        await result
