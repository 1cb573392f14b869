"""The publisher's Kafka side that is not the live send: connecting, probing a broker that
was down, replacing a producer whose sequence Kafka refuses, and replaying the spool (oldest
first, cursor moved only after the acknowledgement; waits while a batch copied to the spool
still awaits Kafka's answer, which decides whether replay skips the copy).

A mixin of :class:`~agent.publisher.KafkaPublisher`; the attributes and methods declared here
are the publisher's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lightkeeper.agent.kafka_support import producer_kwargs, stop_quietly, watch_disconnects
from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.publish_state import InFlight
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.agent.spool import Record, Spool

log = logging.getLogger("lightkeeper.agent.publisher")


class ReplayMixin:
    """Connect, probe, replace the producer, replay the spool (see the module docstring)."""

    settings: AgentSettings
    metrics: AgentMetrics
    topic: str
    counts: dict[str, int]
    producer_resets: int
    _producer: Any
    _producer_broken: bool
    _partitions: list[int]
    _spool: Spool | None
    _healthy: bool
    _unacked: dict[int, InFlight]
    _copying: int

    # the publisher's own methods
    def _on_disconnect(self) -> None:
        raise NotImplementedError

    def _mark_healthy(self) -> None:
        raise NotImplementedError

    def _set_unhealthy(self, exc: BaseException | None) -> None:
        raise NotImplementedError

    def _note_fatal(self, exc: BaseException | None) -> None:
        raise NotImplementedError

    async def _partitions_for(self) -> list[int]:
        raise NotImplementedError

    async def _note_delivered_copies(self) -> None:
        raise NotImplementedError

    async def _send(self, records: list[Record], *, replay: bool) -> list[asyncio.Future[Any]]:
        raise NotImplementedError

    async def _connect_and_replay(self) -> None:
        from aiokafka import AIOKafkaProducer

        interval = self.settings.replay_interval_s
        while self._producer is None:
            producer = AIOKafkaProducer(**producer_kwargs(self.settings))
            watch_disconnects(producer, self._on_disconnect)
            try:
                await asyncio.wait_for(producer.start(), self.settings.publish_timeout_s)
                await self._ensure_topic()
                self._producer = producer
                self._partitions = []
                await self._partitions_for()
                self._mark_healthy()
            except Exception as exc:
                if self._producer is None:
                    log.warning(
                        "kafka not reachable at %s (%s); spooling, retrying every %.0fs",
                        self.settings.kafka.bootstrap_servers,
                        exc,
                        interval,
                    )
                    await stop_quietly(producer)
                await asyncio.sleep(interval)
        while True:
            if self._producer_broken and not self._unacked:
                await self._replace_producer()
            if self._spool is not None and self._spool.write_error is not None:
                await asyncio.to_thread(self._spool.probe)  # readiness returns once the disk has room
                self.metrics.spool_writable.set(0 if self._spool.write_error is not None else 1)
            if not self._healthy and not await self._probe():
                await asyncio.sleep(interval)
                continue
            if self._copying or any(b.copied for b in self._unacked.values()):
                await asyncio.sleep(0.1)  # its acknowledgement decides whether replay skips the copy
                continue
            await self._note_delivered_copies()
            if self._spool is not None and self._spool.pending_records:
                try:
                    await self._replay_once()
                    continue
                except Exception as exc:
                    self._note_fatal(exc)
                    self._set_unhealthy(exc)
            await asyncio.sleep(interval if not self._healthy else min(interval, 0.2))

    async def _replace_producer(self) -> None:
        """Swap in a new producer (new producer id, fresh sequence numbers); events stay in the
        spool meanwhile and are replayed through the new one."""
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(**producer_kwargs(self.settings))
        watch_disconnects(producer, self._on_disconnect)
        try:
            await asyncio.wait_for(producer.start(), self.settings.publish_timeout_s)
        except Exception as exc:
            log.warning("could not start a new kafka producer (%s); retrying", exc)
            await stop_quietly(producer)
            return
        old, self._producer = self._producer, producer
        self._producer_broken = False
        self._partitions = []
        self.producer_resets += 1
        log.warning("kafka refused the producer's sequence after an outage: replaced the producer")
        if old is not None:
            await stop_quietly(old)

    async def _probe(self) -> bool:
        """True when a broker answers a metadata request (Kafka is back)."""
        try:
            ok = await asyncio.wait_for(
                self._producer.client.force_metadata_update(), self.settings.publish_timeout_s
            )
        except Exception:
            return False
        if ok and not self._unacked:
            self._mark_healthy()
        return bool(ok)

    async def _ensure_topic(self) -> None:
        """Create the events topic if missing (idempotent); without admin rights just log."""
        if not self.settings.ensure_topics:
            return
        from lightkeeper.kafka.topics import ensure_topics_async

        try:
            await ensure_topics_async(
                self.settings.kafka, ("events",), timeout_s=self.settings.publish_timeout_s
            )
        except Exception as exc:
            log.warning("could not ensure topic %s exists (%s); assuming it does", self.topic, exc)

    async def _replay_once(self) -> None:
        assert self._spool is not None
        records, position = await asyncio.to_thread(self._spool.read, self.settings.publish_batch_size)
        if not records:
            await asyncio.to_thread(self._spool.commit, position)
            return
        futures = await self._send(records, replay=True)
        # no timeout: a batch handed to the producer is delivered when Kafka answers (or fails);
        # re-sending it after a timeout would duplicate it.
        await asyncio.gather(*futures)
        await asyncio.to_thread(self._spool.commit, position)
        self._mark_healthy()
        self.counts["replayed"] += len(records)
        self.metrics.events.labels("replayed").inc(len(records))
        self.metrics.spool_bytes.set(self._spool.pending_bytes)
