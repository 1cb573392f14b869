"""Getting events out of the process: bounded memory buffer -> Kafka, spool on trouble.

Request handlers call :meth:`Publisher.submit` (never blocks, never raises). A sender task
drains the buffer in batches into an idempotent aiokafka producer (``acks=all``, lz4/zstd).
It lingers: a batch leaves when its oldest record is ``linger_ms`` old or the batch is full,
and the batches of all partitions go in one Kafka request (each request costs CPU here and on
the broker, CPU the proxied calls compete for). Records whose batch Kafka did not acknowledge
(broker down, timeout) or that arrive while Kafka is known to be down go to the
:class:`~agent.spool.Spool`; a replay task sends the spool, oldest first, when Kafka answers
again (also after a restart), and moves the spool cursor only after the acknowledgement.

**First sign of trouble**: a batch still unacknowledged after ``spool_unacked_after_ms`` (or
any unacknowledged batch when a broker connection breaks) is *copied* to the spool at once and
Kafka is marked down, so that a SIGKILL loses at most about a second of events, not what the
producer holds. The batch stays with the producer (the idempotent producer delivers it when
Kafka returns); if Kafka acknowledges it after all, the spool is told
(:meth:`~agent.spool.Spool.mark_delivered`) and replay skips the copies. Replay waits while a
copied batch is still unacknowledged. Only a crash between that acknowledgement and the note
(or a lost ``delivered`` file) replays a copy that Kafka already has: a double write, harmless
in the store (ReplacingMergeTree on ``event_id``; read through ``events_dedup``).

**Message key**: ``trace_id`` when the event has one, else ``event_id``. Calls of one trace
land on one partition (in order), everything else spreads evenly; per-app keys would make
hot partitions. Partitions are chosen with Kafka's murmur2 partitioner, like the Java client
(:func:`lightkeeper.agent.kafka_support.partition_for`).

Every record is accounted for: ``published`` (acked), ``spooled`` (on disk, later
``replayed``) or ``dropped`` (buffer and spool full, spool unwritable; counted by reason and
logged at most every 10 s with the exact count). A copy spooled and then acknowledged counts
in ``spooled``, ``published`` and ``copy_acked`` (so built = published + spooled - copy_acked
+ dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from lightkeeper.agent.kafka_support import (
    needs_new_producer,
    partition_for,
    producer_kwargs,
)
from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.publish_state import InFlight, LossLog
from lightkeeper.agent.publisher_replay import ReplayMixin
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.agent.sinks import EventSink, MemorySink
from lightkeeper.agent.spool import Record, Spool

log = logging.getLogger(__name__)


class KafkaPublisher(ReplayMixin):
    """Buffer -> Kafka with spool fallback and replay (see the module docstring)."""

    def __init__(self, settings: AgentSettings, metrics: AgentMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or AgentMetrics()
        self.topic = settings.kafka.topic("events")
        self._buf: deque[Record] = deque()
        self._buf_since = 0.0
        """``time.monotonic()`` when the buffer last went from empty to non-empty (linger start)."""
        self._overflow: list[Record] = []
        self._failed: list[Record] = []
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()
        self._producer: Any = None
        self._healthy = False
        self._partitions: list[int] = []
        self._partitions_at = 0.0
        self._unacked: dict[int, InFlight] = {}
        self._unacked_records = 0
        self._unacked_copied = 0
        """Of those, records already copied to the spool (not lost by a SIGKILL)."""
        self._delivered_copies: list[Record] = []
        """Copied records Kafka acknowledged, to be noted in the spool (replay skips them)."""
        self._disconnected = False
        self._copying = 0
        """Copies being written now (replay waits: their batch's outcome is not settled)."""
        self._next_id = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._spool: Spool | None = None
        self.spool_error: str | None = None
        """Why the spool could not be opened at start (None: it is open)."""
        self._producer_broken = False
        self.producer_resets = 0
        self._loss_log = LossLog(log)
        self.counts = {
            "published": 0,
            "spooled": 0,
            "replayed": 0,
            "dropped": 0,
            "copied": 0,
            "copy_acked": 0,
        }

    # -- public --------------------------------------------------------------------------------
    def submit(self, key: bytes | None, value: bytes) -> None:
        """Enqueue one record. Never blocks: past ``buffer_size`` it goes to the spool queue."""
        if len(self._buf) < self.settings.buffer_size:
            if not self._buf:
                self._buf_since = time.monotonic()
            self._buf.append((key, value))
        elif len(self._overflow) < self.settings.buffer_size:
            self._overflow.append((key, value))
        else:
            self._drop(1, "buffer_full")
            return
        if not self._wake.is_set():
            self._wake.set()

    def ready(self) -> bool:
        """Ready means events are safe: Kafka is up, or the spool can take them (room left and
        its last write succeeded)."""
        return self._spool is not None and (
            self._healthy
            or (self._spool.write_error is None and self._spool.pending_bytes < self.settings.spool_max_bytes)
        )

    @property
    def spool_writable(self) -> bool:
        return self._spool is not None and self._spool.write_error is None

    @property
    def kafka_healthy(self) -> bool:
        return self._healthy

    @property
    def spool(self) -> Spool | None:
        return self._spool

    async def start(self) -> None:
        s = self.settings
        if s.publish_enabled:
            producer_kwargs(s)  # a Kafka configuration error (TLS files, SASL) fails the start, clearly
        try:
            self._spool = await asyncio.to_thread(
                Spool,
                s.resolved_spool_dir,
                max_bytes=s.spool_max_bytes,
                segment_bytes=s.spool_segment_bytes,
                full_policy=s.spool_full_policy,
                fsync=s.spool_fsync,
                fsync_interval_ms=s.spool_fsync_interval_ms,
            )
        except OSError as exc:  # read-only or missing volume: proxy anyway, report not ready
            self.spool_error = f"{s.resolved_spool_dir}: {exc.strerror or exc}"
            log.error(
                "the spool cannot be opened (%s): calls are proxied, /readyz reports not ready, and "
                "events Kafka does not take are dropped (lightkeeper_agent_events_dropped_total"
                '{reason="no_spool"})',
                self.spool_error,
            )
        else:
            self.metrics.spool_bytes.set(self._spool.pending_bytes)
            if self._spool.pending_records:
                log.info(
                    "spool holds %d events from an earlier run; replaying when Kafka answers",
                    self._spool.pending_records,
                )
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="lk-publisher-send"),
            asyncio.create_task(self._watch_unacked(), name="lk-publisher-watch"),
        ]
        if s.publish_enabled:
            self._tasks.append(asyncio.create_task(self._connect_and_replay(), name="lk-publisher-replay"))

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Send what is buffered (or spool it), wait for acks, close the spool and producer."""
        self._closing = True
        self._closed.set()
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        if self._tasks:  # the sender flushes; the watcher finishes a copy it is writing
            try:
                await asyncio.wait_for(asyncio.gather(*self._tasks[:2]), timeout_s)
            except TimeoutError:
                log.warning("publisher sender did not finish in %.1fs", timeout_s)
        for task in self._tasks[2:]:
            task.cancel()
        await asyncio.gather(*self._tasks[2:], return_exceptions=True)
        while self._unacked and time.monotonic() < deadline:  # noqa: ASYNC110 - acks arrive via callbacks
            await asyncio.sleep(0.02)
        if self._producer is not None:
            try:
                await asyncio.wait_for(self._producer.stop(), max(0.5, deadline - time.monotonic()))
            except Exception:
                log.warning("kafka producer did not stop cleanly", exc_info=True)
        unacked = [r for b in self._unacked.values() for r in b.records[b.copied :]]
        self._unacked.clear()  # late acks of these are ignored; they go to the spool instead
        self._unacked_records = self._unacked_copied = 0
        self._set_unacked_gauge()
        await self._spool_records(self._failed + unacked + list(self._buf) + self._overflow)
        self._failed, self._overflow = [], []
        self._buf.clear()
        await self._note_delivered_copies()
        self._loss_log.flush(force=True)
        if self._spool is not None:
            await asyncio.to_thread(self._spool.close)

    # -- internals -----------------------------------------------------------------------------
    def _drop(self, n: int, reason: str) -> None:
        self.counts["dropped"] += n
        self.metrics.dropped.labels(reason).inc(n)
        self.metrics.events.labels("dropped").inc(n)
        self._loss_log.dropped(n, reason, self.settings.spool_full_policy)

    async def _spool_records(self, records: list[Record], *, copies: bool = False) -> int:
        """Append to the spool; returns how many were stored. The rest is dropped and counted,
        except for ``copies`` (still with the producer: not lost yet)."""
        if not records:
            return 0
        if self._spool is None:
            if not copies:
                self._drop(len(records), "no_spool")
            return 0
        before = self._spool.dropped
        try:
            stored = await asyncio.to_thread(self._spool.append, records)
        except Exception as exc:  # the spool reports write failures itself; this is a bug
            log.error("spool append failed unexpectedly: %r", exc)
            stored = 0
        failed = self._spool.write_error
        if failed is not None:
            self._loss_log.write_failed(str(self.settings.resolved_spool_dir), failed)
        self.metrics.spool_writable.set(0 if failed is not None else 1)
        self.counts["spooled"] += stored
        self.metrics.events.labels("spooled").inc(stored)
        if copies:
            self.counts["copied"] += stored
            self.metrics.events.labels("copied").inc(stored)
        lost = self._spool.dropped - before
        evicted = lost if self.settings.spool_full_policy == "drop_oldest" else 0
        refused = 0 if copies else len(records) - stored
        if refused or evicted:
            full = failed is None or (lost and self.settings.spool_full_policy == "drop_newest")
            self._drop(refused + evicted, "spool_full" if full else "spool_error")
        self.metrics.spool_bytes.set(self._spool.pending_bytes)
        return int(stored)

    async def _send_loop(self) -> None:
        last_sync = time.monotonic()
        while True:
            if not self._buf and not self._overflow and not self._failed:
                if self._closing:
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._tick_s())
            await self._linger()
            self.metrics.buffer_depth.set(len(self._buf) + len(self._overflow))
            if self._failed or self._overflow:
                records, self._failed = self._failed, []
                records += self._overflow
                self._overflow = []
                await self._spool_records(records)
            n = min(len(self._buf), self.settings.publish_batch_size)
            batch = [self._buf.popleft() for _ in range(n)]
            self._buf_since = 0.0  # records left over have waited long enough already
            if batch:
                if (
                    self._healthy
                    and self._producer is not None
                    and self._inflight() < self.settings.buffer_size
                ):
                    await self._send(batch, replay=False)
                else:
                    await self._spool_records(batch)
            self._loss_log.flush()
            if self._spool is not None and self.settings.spool_fsync == "interval":
                now = time.monotonic()
                if (now - last_sync) * 1000 >= self.settings.spool_fsync_interval_ms:
                    last_sync = now
                    await asyncio.to_thread(self._spool.sync)
            await asyncio.sleep(0)

    async def _linger(self) -> None:
        """Wait until the oldest buffered record is ``linger_ms`` old (not when the batch is full,
        a failure is pending or the publisher is closing)."""
        wait = self._buf_since + self.settings.linger_ms / 1000 - time.monotonic()
        if (
            wait > 0
            and len(self._buf) < self.settings.publish_batch_size
            and not (self._closing or self._failed or self._overflow)
        ):
            await asyncio.sleep(wait)

    def _inflight(self) -> int:
        return self._unacked_records

    def _tick_s(self) -> float:
        """How often the idle sender looks at unacknowledged batches (and the fsync interval)."""
        s = self.settings
        return min(s.spool_fsync_interval_ms, s.spool_unacked_after_ms / 4, 100) / 1000

    def _set_unacked_gauge(self) -> None:
        """``lightkeeper_agent_unacked_events``: handed to Kafka, unacknowledged, only in memory."""
        self.metrics.unacked_events.set(self._unacked_records - self._unacked_copied)

    def _on_disconnect(self) -> None:
        """A broker connection broke: copy what awaits an acknowledgement now."""
        if self._unacked:
            self._disconnected = True
            self._wake.set()

    async def _watch_unacked(self) -> None:
        """Every tick: copy overdue unacknowledged batches to the spool, note copies Kafka
        acknowledged after all. Its own task: the sender can wait on the producer meanwhile."""
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), self._tick_s())
            await self._copy_overdue()
            if self._delivered_copies:
                await self._note_delivered_copies()

    async def _copy_overdue(self) -> None:
        """First sign of trouble (a batch unacknowledged for ``spool_unacked_after_ms``, or a broken
        connection): copy the unacknowledged batches to the spool and mark Kafka down, so new events
        go to the spool too. The batches stay with the producer (see the module docstring)."""
        if not self._unacked:
            self._disconnected = False
            return
        now = time.monotonic()
        limit = self.settings.spool_unacked_after_ms / 1000
        due = [
            b
            for b in self._unacked.values()
            if b.copied < len(b.records) and (self._disconnected or now - b.sent_at > limit)
        ]
        disconnected, self._disconnected = self._disconnected, False
        if not due:
            return
        self._set_unhealthy(
            ConnectionError("broker connection lost")
            if disconnected
            else TimeoutError(f"no acknowledgement in {limit:g}s")
        )
        for batch in due:
            rest = batch.records[batch.copied :]
            batch.copying = len(rest)
            self._copying += 1
            try:
                stored = await self._spool_records(rest, copies=True)
            finally:
                self._copying -= 1
            batch.copied, batch.copying = batch.copied + stored, 0
            if not batch.outcome:  # still awaiting Kafka (else _on_ack settled the counters)
                self._unacked_copied += stored
                self._set_unacked_gauge()
            # Kafka may have answered while the copy was written (see _on_ack)
            if batch.outcome == "failed":
                self._failed.extend(rest[stored:])
            elif batch.outcome == "acked":
                self._copies_delivered(rest[:stored])
            if stored < len(rest):
                break  # the spool takes nothing more now; retried on the next tick

    async def _note_delivered_copies(self) -> None:
        records, self._delivered_copies = self._delivered_copies, []
        if records and self._spool is not None:
            await asyncio.to_thread(self._spool.mark_delivered, records)

    async def _partitions_for(self) -> list[int]:
        now = time.monotonic()
        if not self._partitions or now - self._partitions_at > 60:
            parts = await asyncio.wait_for(
                self._producer.partitions_for(self.topic), self.settings.publish_timeout_s
            )
            self._partitions = sorted(parts)
            self._partitions_at = now
        return self._partitions

    async def _send(self, records: list[Record], *, replay: bool) -> list[asyncio.Future[Any]]:
        """Hand records to the producer grouped by partition; failures go to the spool (live) or
        are reported through the returned futures (replay)."""
        producer = self._producer
        futures: list[asyncio.Future[Any]] = []
        try:
            parts = await self._partitions_for()
        except Exception as exc:
            self._set_unhealthy(exc)
            if not replay:
                await self._spool_records(records)
            raise_if(replay, exc)
            return futures
        groups: dict[int, list[Record]] = {}
        for rec in records:
            groups.setdefault(partition_for(rec[0], parts), []).append(rec)
        ts = int(time.time() * 1000)
        batches: list[tuple[int, Any, list[Record]]] = []
        paused = time.perf_counter()
        for partition, recs in groups.items():
            start = 0
            while start < len(recs):
                builder = producer.create_batch()
                end = start
                while end < len(recs) and builder.append(key=recs[end][0], value=recs[end][1], timestamp=ts):
                    end += 1
                if end == start:  # a single record larger than the batch limit
                    self._drop(1, "too_large")
                    start += 1
                    continue
                batches.append((partition, builder, recs[start:end]))
                start = end
            if time.perf_counter() - paused > 0.001:  # building is CPU: let requests through
                await asyncio.sleep(0)
                paused = time.perf_counter()
        # Handed over without a pause (wait_for's task would let the sender run in between), so
        # that one Kafka request takes the batches of every partition.
        # A producer that cannot deliver stops taking batches (one pending batch per partition):
        # live records waiting for it longer than the copy deadline go to the spool instead.
        wait_s = self.settings.publish_timeout_s
        if not replay:
            wait_s = min(wait_s, self.settings.spool_unacked_after_ms / 1000)
        for i, (partition, builder, chunk) in enumerate(batches):
            try:
                async with asyncio.timeout(wait_s):
                    fut = await producer.send_batch(builder, self.topic, partition=partition)
            except Exception as exc:
                self._note_fatal(exc)
                self._set_unhealthy(exc)
                if replay:
                    raise
                await self._spool_records([r for _, _, rest in batches[i:] for r in rest])
                return futures
            if not replay:
                self._next_id += 1
                self._unacked[self._next_id] = InFlight(chunk, time.monotonic())
                self._unacked_records += len(chunk)
                self._set_unacked_gauge()
                fut.add_done_callback(lambda f, n=self._next_id: self._on_ack(f, n))
            futures.append(fut)
        return futures

    def _on_ack(self, fut: asyncio.Future[Any], batch_id: int) -> None:
        entry = self._unacked.pop(batch_id, None)
        if entry is None:  # already spooled at shutdown
            return
        self._unacked_records -= len(entry.records)
        self._unacked_copied -= entry.copied
        self._set_unacked_gauge()
        chunk = entry.records
        exc = None if fut.cancelled() else fut.exception()
        if fut.cancelled() or exc is not None:
            entry.outcome = "failed"
            self._note_fatal(exc)
            self._set_unhealthy(exc)
            # the copied ones are in the spool; those being copied are settled by _copy_overdue
            self._failed.extend(chunk[entry.copied + entry.copying :])
            self._wake.set()
            return
        entry.outcome = "acked"
        self._mark_healthy()
        self.counts["published"] += len(chunk)
        self.metrics.events.labels("published").inc(len(chunk))
        self._copies_delivered(chunk[: entry.copied])

    def _copies_delivered(self, records: list[Record]) -> None:
        """Kafka acknowledged records whose copy is in the spool: replay is to skip them."""
        if records:
            self._delivered_copies.extend(records)
            self.counts["copy_acked"] += len(records)
            self.metrics.events.labels("copy_acked").inc(len(records))
            self._wake.set()

    def _note_fatal(self, exc: BaseException | None) -> None:
        """After an outage the idempotent producer's sequence numbers can have a gap; the broker
        then refuses every later batch of that producer (OutOfOrderSequenceNumber...). Only a new
        producer (new producer id) can publish again: mark it for replacement."""
        if exc is not None and needs_new_producer(exc):
            self._producer_broken = True

    def _set_unhealthy(self, exc: BaseException | None) -> None:
        if self._healthy:
            log.warning(
                "kafka unavailable (%s): spooling events to %s",
                exc or "cancelled",
                self.settings.resolved_spool_dir,
            )
        self._healthy = False
        self.metrics.kafka_up.set(0)

    def _mark_healthy(self) -> None:
        if not self._healthy:
            log.info("kafka reachable: publishing directly")
        self._healthy = True
        self.metrics.kafka_up.set(1)


def raise_if(condition: bool, exc: BaseException) -> None:
    if condition:
        raise exc


__all__ = ["EventSink", "KafkaPublisher", "MemorySink"]
