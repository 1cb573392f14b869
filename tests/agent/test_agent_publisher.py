"""KafkaPublisher without a broker: what happens when the producer refuses a batch mid-way."""

from __future__ import annotations

import asyncio
import errno
import io
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from lightkeeper.agent.publisher import KafkaPublisher
from lightkeeper.agent.settings import AgentSettings


class _Builder:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes]] = []

    def append(self, *, key: bytes | None, value: bytes, timestamp: int) -> bool:
        self.records.append((key, value))
        return True


class _Producer:
    """Takes the first ``ok`` batches, then refuses like a producer whose queue is stuck."""

    def __init__(self, ok: int) -> None:
        self.ok = ok
        self.taken: list[tuple[int, list[tuple[bytes | None, bytes]]]] = []

    def create_batch(self) -> _Builder:
        return _Builder()

    async def send_batch(self, builder: _Builder, topic: str, *, partition: int) -> Any:
        if len(self.taken) >= self.ok:
            raise KafkaTimeoutError()
        self.taken.append((partition, builder.records))
        return asyncio.get_running_loop().create_future()  # acknowledged later (never, here)


async def test_refused_batch_spools_exactly_the_records_not_handed_over(tmp_path: Path) -> None:
    pub = KafkaPublisher(AgentSettings(spool_dir=tmp_path, publish_enabled=False))
    await pub.start()
    producer = _Producer(ok=2)
    pub._producer, pub._partitions, pub._partitions_at = producer, list(range(6)), time.monotonic()
    pub._healthy = True
    records = [(f"key-{i}".encode(), f"value-{i}".encode()) for i in range(60)]
    futures = await pub._send(records, replay=False)
    assert pub.spool is not None
    spooled, _ = pub.spool.read(1000)
    handed = [r for _, recs in producer.taken for r in recs]
    assert len(futures) == 2 and len(producer.taken) == 2
    # every record exactly once: with the producer (awaiting its ack) or in the spool
    assert sorted(handed + spooled) == sorted(records)
    assert pub.counts["spooled"] == len(spooled) == len(records) - len(handed)
    assert not pub.kafka_healthy
    await pub.stop(timeout_s=0.1)


class _SilentProducer(_Producer):
    """Takes every batch; acknowledges only when the test says so (Kafka gone quiet)."""

    def __init__(self) -> None:
        super().__init__(ok=10**9)
        self.futures: list[asyncio.Future[Any]] = []

    async def send_batch(self, builder: _Builder, topic: str, *, partition: int) -> Any:
        fut = await super().send_batch(builder, topic, partition=partition)
        self.futures.append(fut)
        return fut


async def _until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:  # noqa: ASYNC110 - polling a spool file
        await asyncio.sleep(0.02)


def _gauge(pub: KafkaPublisher, name: str, **labels: str) -> float | None:
    return pub.metrics.registry.get_sample_value(name, labels)


async def test_unacknowledged_events_reach_the_spool_within_a_second(tmp_path: Path) -> None:
    """Kafka stops answering: events handed to the producer must not wait in memory until
    ``publish_timeout_s`` (a SIGKILL meanwhile would lose them) but be spooled within ~1 s;
    when Kafka acknowledges them after all, replay skips the copies."""
    pub = KafkaPublisher(AgentSettings(spool_dir=tmp_path, publish_enabled=False, publish_timeout_s=30))
    await pub.start()
    producer = _SilentProducer()
    pub._producer, pub._partitions, pub._partitions_at = producer, list(range(3)), time.monotonic()
    pub._healthy = True
    records = [(f"key-{i}".encode(), f"value-{i}".encode()) for i in range(50)]
    for rec in records:
        pub.submit(*rec)
    await asyncio.sleep(0.3)
    assert len([r for _, recs in producer.taken for r in recs]) == 50
    assert _gauge(pub, "lightkeeper_agent_unacked_events") == 50
    assert pub.spool is not None and pub.spool.pending_records == 0
    t0 = time.monotonic()
    await _until(lambda: pub.spool is not None and pub.spool.pending_records >= 50, 3)
    assert pub.spool.pending_records == 50, "unacknowledged events still only in memory"
    assert time.monotonic() - t0 < 1.2
    assert not pub.kafka_healthy and pub.ready()
    assert _gauge(pub, "lightkeeper_agent_unacked_events") == 0  # in the spool: no longer at risk
    for fut in producer.futures:  # Kafka acknowledges the original batches after all
        fut.set_result(None)
    await asyncio.sleep(0.3)
    assert pub.counts["published"] == 50 and pub.counts["copy_acked"] == 50
    assert _gauge(pub, "lightkeeper_agent_unacked_events") == 0
    replayed, _ = pub.spool.read(1000)
    assert replayed == []  # the copies are not sent a second time
    await pub.stop(timeout_s=0.5)


async def test_failed_ack_after_the_copy_spools_nothing_twice(tmp_path: Path) -> None:
    pub = KafkaPublisher(AgentSettings(spool_dir=tmp_path, publish_enabled=False, publish_timeout_s=30))
    await pub.start()
    producer = _SilentProducer()
    pub._producer, pub._partitions, pub._partitions_at = producer, list(range(3)), time.monotonic()
    pub._healthy = True
    records = [(f"key-{i}".encode(), f"value-{i}".encode()) for i in range(20)]
    for rec in records:
        pub.submit(*rec)
    assert pub.spool is not None
    await _until(lambda: pub.spool is not None and pub.spool.pending_records >= 20, 3)
    for fut in producer.futures:
        fut.set_exception(KafkaTimeoutError())
    await asyncio.sleep(0.3)
    await pub.stop(timeout_s=0.5)
    again = KafkaPublisher(AgentSettings(spool_dir=tmp_path, publish_enabled=False))
    await again.start()
    assert again.spool is not None
    spooled, _ = again.spool.read(1000)
    assert sorted(spooled) == sorted(records)
    await again.stop(timeout_s=0.1)


class _DiskBudget:
    """A disk with ``free`` bytes left: a write writes what fits, then fails with ENOSPC."""

    def __init__(self, free: int) -> None:
        self.free = free

    def open(self, path: Path) -> io.FileIO:
        budget = self

        class _File(io.FileIO):
            def write(self, data: Any) -> int:
                if budget.free <= 0:
                    raise OSError(errno.ENOSPC, "No space left on device")
                n = int(super().write(memoryview(data)[: budget.free]))
                budget.free -= n
                return n

        return _File(path, "ab")


async def test_spool_disk_full_means_not_ready_and_drops_counted_and_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    disk = _DiskBudget(free=3000)
    monkeypatch.setattr("lightkeeper.agent.spool.open_append", disk.open)
    pub = KafkaPublisher(AgentSettings(spool_dir=tmp_path, publish_enabled=False, linger_ms=10))
    caplog.set_level(logging.WARNING)
    await pub.start()
    assert pub.ready()
    sent = 0
    for _ in range(30):  # 30 batches while Kafka is down and the disk is full after the first
        for _ in range(20):
            pub.submit(f"k{sent}".encode(), f"value-{sent}".encode() * 3)
            sent += 1
        await asyncio.sleep(0.03)
    await asyncio.sleep(0.1)
    assert pub.spool is not None
    assert not pub.ready(), "ready while every event is dropped"
    counts = pub.counts
    assert counts["spooled"] + counts["dropped"] == sent
    assert counts["spooled"] == pub.spool.pending_records > 0
    # the batch that met the full disk kept every whole record that fitted: the longest prefix
    sizes = [8 + 2 + len(f"k{i}") + len(f"value-{i}") * 3 for i in range(sent)]
    fitting = next(i for i in range(sent + 1) if i == sent or sum(sizes[: i + 1]) > 3000)
    assert counts["spooled"] == fitting and fitting % 20, (counts, fitting)
    dropped_metric = _gauge(pub, "lightkeeper_agent_events_dropped_total", reason="spool_error")
    assert dropped_metric == counts["dropped"]
    await pub.stop(timeout_s=0.1)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) <= 4, [r.getMessage() for r in warnings]
    assert not any(r.exc_info for r in warnings)
    lines = [re.search(r"dropped (\d+) event", r.getMessage()) for r in warnings]
    logged = sum(int(m.group(1)) for m in lines if m)
    assert logged == counts["dropped"]


async def test_a_broken_broker_connection_is_reported_and_an_idle_close_is_not() -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.conn import CloseReason

    from lightkeeper.agent.kafka_support import watch_disconnects

    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")
    seen: list[str] = []
    watch_disconnects(producer, lambda: seen.append("lost"))
    producer.client._on_connection_closed(None, CloseReason.IDLE_DROP)
    assert seen == []
    producer.client._on_connection_closed(None, CloseReason.CONNECTION_BROKEN)
    assert seen == ["lost"]
    await producer.client.close()
