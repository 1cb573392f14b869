"""The faust worker (``lightkeeper worker``): thin agents around the shared pipeline.

* ``process_events`` consumes the events topic in batches (``stream.noack_take(n, within)``),
  runs :class:`Pipeline` in a worker thread, stores the batch through :class:`Sink`, publishes
  dead letters and derived records, and only THEN acknowledges the batch's events. faust commits
  an offset once every earlier event of the partition is acknowledged, so an offset is never
  committed before its event is in the store (at-least-once). ``noack_take`` is used instead of
  ``take`` because ``take`` acknowledges in a ``finally`` — also when the loop is cancelled during
  a store outage, which would commit unstored events.
* ``monitor_by_key`` runs the stateful stages (drift, anomalies, alerts) on a stream
  repartitioned by the ``app|model`` key: the events agent forwards each stored event (with its
  scores) to an internal topic keyed by it, so all of a key's events reach the one worker owning
  that partition, and a key's state moves with its partition on rebalance (rebuilt there from
  the key's new events).

N workers with the same ``app_id`` share the events partitions as one consumer group.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import faust

from lightkeeper.kafka.client import faust_broker_kwargs
from lightkeeper.processors.metrics import WorkerMetrics, observe_many
from lightkeeper.processors.monitor_envelope import encode_envelopes, open_envelopes
from lightkeeper.processors.pipeline import Batch, DeadLetter, Pipeline, RawEvent
from lightkeeper.processors.settings import WorkerSettings
from lightkeeper.processors.sink import Sink
from lightkeeper.schemas.codec import encode
from lightkeeper.settings import make_private_dir
from lightkeeper.worker._faust_fastpath import (
    AtLeastOnceConsumer,
    LeanApp,
    LeanProducer,
    RawSchema,
    ack_events,
    check_faust,
)

log = logging.getLogger(__name__)

RESULT_TOPICS = ("scores", "drift", "anomalies", "alerts")
IN_FLIGHT = 2
"""Batches the events agent holds at once (processing + storing) while it takes the next."""


@dataclass
class WorkerParts:
    """What the worker runs: the faust app and the shared processing objects."""

    app: faust.App
    pipeline: Pipeline
    sink: Sink
    metrics: WorkerMetrics


def create_worker(
    settings: WorkerSettings,
    client: Any,
    *,
    pipeline: Pipeline | None = None,
    monitors: Pipeline | None = None,
) -> WorkerParts:
    """Build the faust app wired to ``client`` (a migrated store client). ``pipeline`` runs in
    the events agent (enrichment, scores); ``monitors`` (stateful stages: drift, anomalies,
    alerts) runs in the keyed agent on the stream repartitioned by ``app|model``."""
    kafka = settings.kafka
    metrics = WorkerMetrics()
    pipeline = pipeline or Pipeline()
    sink = Sink(
        client,
        database=settings.store.database,
        metrics=metrics,
        retry_initial_s=settings.retry_initial_s,
        retry_max_s=settings.retry_max_s,
    )
    datadir = settings.data_dir / "worker" / settings.app_id
    make_private_dir(datadir)
    max_poll = max(settings.batch_max, 500)
    app = LeanApp(
        settings.app_id,
        **faust_broker_kwargs(kafka),
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        autodiscover=False,
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        topic_allow_declare=True,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(settings.session_timeout_s / 4, 0.5),
        broker_max_poll_records=max_poll,
        # faust stops fetching a partition when its buffer passes 80 % and resumes below 40 %;
        # one poll's records are still delivered after that, so the buffer keeps room for
        # them: deliveries never wait on a full buffer one message at a time.
        stream_buffer_maxsize=max(settings.batch_max * 2, 4096, 5 * max_poll + 1),
        producer_acks=-1,
        producer_linger_ms=5,
        producer_compression_type=None
        if kafka.compression_type in ("producer", "uncompressed")
        else kafka.compression_type,
        table_cleanup_interval=30.0,
        logging_config=None,
        # faust's Cython stream iterator takes an event already in the channel's queue
        # directly instead of awaiting the channel for it (faust's opt-in repaired fast
        # path; each topic here has one channel, so the conductor's change is moot).
        cython_optimizations=True,
    )
    check_faust(app)
    app.transport.Consumer = AtLeastOnceConsumer  # type: ignore[misc]
    app.transport.Producer = LeanProducer  # type: ignore[misc]
    events_topic = app.topic(
        kafka.topic("events"), schema=RawSchema(key_serializer="raw", value_serializer="raw")
    )
    dead_topic = kafka.topic("dead-letters")
    monitor_topic = app.topic(
        f"{kafka.topic_prefix}{settings.app_id}-monitor-by-key",
        schema=RawSchema(key_type=str, value_serializer="raw"),
        partitions=kafka.partitions,
        internal=True,
    )

    async def pause() -> None:
        metrics.paused.set(1)
        app.consumer.pause_partitions(app.consumer.assignment())

    async def resume() -> None:
        app.consumer.resume_partitions(app.consumer.assignment())

    async def publish(batch: Batch) -> None:
        producer = app.producer
        sends = [await producer.send(dead_topic, d.key, d.value, None, None, d.headers()) for d in batch.dead]
        if settings.publish_results:
            for name, records in batch.records.items():
                topic = kafka.topic(name)
                sends.extend([await producer.send(topic, None, encode(r), None, None, None) for r in records])
        if monitors is not None and monitors.stages and batch.events:
            for key, value in encode_envelopes(batch):
                sends.append(await monitor_topic.send(key=key, value=value))
        if sends:
            await asyncio.gather(*sends)

    def update_lag(last: dict[Any, int]) -> None:
        """Set the lag gauge of each partition from its last stored offset."""
        for tp, offset in last.items():
            try:
                hw = app.consumer.highwater(tp)
            except Exception:  # noqa: S112 - lag is informational only
                continue
            if hw is not None:
                metrics.lag.labels(tp.topic, str(tp.partition)).set(max(hw - offset - 1, 0))

    async def finish(events: list[Any], batch: Batch) -> bool:
        """Store, publish, then acknowledge one batch; False when stopping before stored."""
        stored = await sink.store(
            batch, on_pause=pause, on_resume=resume, should_stop=lambda: app.should_stop
        )
        if not stored:
            log.warning(
                "stopping with %d unstored events: not acknowledged, they will be redelivered", len(events)
            )
            return False
        stored_at = time.time()
        latencies: list[float] = []
        last: dict[Any, int] = {}
        for e in events:  # one pass: end-to-end latency and each partition's last offset
            message = e.message
            if message.timestamp:
                latencies.append(max(stored_at - message.timestamp, 0.0))
            tp = message.tp
            if message.offset > last.get(tp, -1):
                last[tp] = message.offset
        observe_many(metrics.e2e_seconds, latencies)
        await publish(batch)
        ack_events(events, app.consumer)
        update_lag(last)
        return True

    process_lock = asyncio.Lock()

    async def handle(events: list[Any], previous: asyncio.Task[bool] | None) -> bool:
        """Process one batch (one batch at a time: FIFO lock), then store, publish and
        acknowledge it once the previous batch is stored; False when stopping first."""
        raws = [
            RawEvent(
                m.value or b"",
                m.key,
                m.topic,
                m.partition,
                m.offset,
                int(m.timestamp * 1000) if m.timestamp else None,
            )
            for m in [e.message for e in events]
        ]
        async with process_lock:
            started = time.perf_counter()
            batch = await asyncio.to_thread(pipeline.process, raws)
            metrics.process_seconds.observe(time.perf_counter() - started)
        if previous is not None and not await previous:
            return False
        return await finish(events, batch)

    @app.agent(events_topic, name=f"{settings.app_id}.process_events")
    async def process_events(stream: Any) -> None:
        # Batches overlap: the next one is taken from the stream while the previous one is
        # processed (in a thread) and the one before it stored (the insert runs without the
        # GIL). At most ``IN_FLIGHT`` batches are held; they are processed one at a time and
        # stored and acknowledged in order.
        inflight: deque[asyncio.Task[bool]] = deque()
        try:
            async for events in stream.noack_take(settings.batch_max, within=settings.batch_within_s):
                while len(inflight) >= IN_FLIGHT:
                    if not await inflight.popleft():
                        return
                previous = inflight[-1] if inflight else None
                inflight.append(asyncio.create_task(handle(list(events), previous)))
            while inflight:
                if not await inflight.popleft():
                    return
        finally:
            for task in inflight:
                if not task.done():
                    task.cancel()

    async def monitor_by_key(stream: Any) -> None:
        # Stateful stages see every event of a key here, on the worker owning its partition.
        assert monitors is not None
        async for events in stream.noack_take(settings.batch_max, within=settings.batch_within_s):
            batch = await asyncio.to_thread(run_monitors, monitors, [e.message.value for e in events])
            if not await sink.store(
                batch, on_pause=pause, on_resume=resume, should_stop=lambda: app.should_stop
            ):
                return
            if settings.publish_results:
                producer = app.producer
                sends = [
                    await producer.send(kafka.topic(name), None, encode(r), None, None, None)
                    for name, records in batch.records.items()
                    if name != "scores"
                    for r in records
                ]
                if sends:
                    await asyncio.gather(*sends)
            ack_events(events, app.consumer)

    if monitors is not None and monitors.stages:
        app.agent(monitor_topic, name=f"{settings.app_id}.monitor_by_key")(monitor_by_key)
        for stage in monitors.stages:
            if getattr(stage, "dispatcher", None) is not None:
                _deliver_alerts(app, stage, client, settings.store.database)
    return WorkerParts(app=app, pipeline=pipeline, sink=sink, metrics=metrics)


def _deliver_alerts(app: Any, stage: Any, client: Any, database: str) -> None:
    """A faust task delivering the alert stage's outbox (stops by cancellation with the app;
    undelivered notifications stay in the persistent outbox for the next start)."""
    stage.attach_store(client, database)

    async def deliver_alerts() -> None:
        await stage.run_dispatcher(asyncio.Event())

    app.task(deliver_alerts)


def run_monitors(monitors: Pipeline, values: list[bytes | None]) -> Batch:
    """Run the stateful stages over envelopes (each event decoded once, not enriched or
    embedded again); the batch keeps only their derived rows and records (the events, scores
    and feedback were stored by the events agent)."""
    batch, feedback = open_envelopes(values)
    monitors.add_feedback(batch, feedback)  # its negative_feedback_rate points for the alert rules
    batch.rows.pop("feedback", None)
    monitors.run_stages(batch)
    batch.records.pop("scores", None)
    return batch


def dead_letter_reason(headers: Any) -> str:
    """The reason header of a dead-letter message (for tools and tests)."""
    for name, value in headers or ():
        if name == "lightkeeper.reason":
            return bytes(value).decode()
    return ""


__all__ = [
    "RESULT_TOPICS",
    "DeadLetter",
    "WorkerParts",
    "create_worker",
    "dead_letter_reason",
]
