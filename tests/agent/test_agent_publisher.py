"""KafkaPublisher without a broker: what happens when the producer refuses a batch mid-way."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

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
