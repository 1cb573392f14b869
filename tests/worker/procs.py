"""Run ``lightkeeper worker`` processes and inspect Kafka groups and their stores (tests)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from _support.chaos import WorkerProcess, free_port
from lightkeeper.settings import KafkaSettings


class WorkerProc(WorkerProcess):
    """The worker tests' defaults: bigger batches, quieter logs."""

    def __init__(
        self, kafka: KafkaSettings, app_id: str, root: Path, *, batch_max: int = 500, **kw: Any
    ) -> None:
        super().__init__(kafka, app_id, root, batch_max=batch_max, log_level="WARNING", **kw)


async def produce(
    kafka: KafkaSettings,
    topic: str,
    values: Sequence[bytes],
    keys: Sequence[bytes] | None = None,
    *,
    rate: float | None = None,
) -> None:
    """Produce ``values`` (at ``rate`` per second when given) and wait for every ack."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        started = time.monotonic()
        futures = []
        for i, v in enumerate(values):
            if rate:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            futures.append(await producer.send(topic, v, key=None if keys is None else keys[i]))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def committed(kafka: KafkaSettings, group: str, topic: str) -> int:
    """Sum of the group's committed offsets on ``topic`` (0 before the first commit)."""
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except KafkaError:  # e.g. the group coordinator of a fresh broker is not ready yet
        return 0
    finally:
        await admin.close()
    return sum(max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic == topic)


async def group_members(kafka: KafkaSettings, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    total = 0
    for resp in described:
        for g in resp.groups:
            state = g[2] if len(g) > 2 else ""
            if state == "Stable":
                total += len(g[5] if len(g) > 5 else [])
    return total


async def wait_committed(
    kafka: KafkaSettings,
    group: str,
    topic: str,
    target: int,
    timeout_s: float,
    procs: Sequence[WorkerProc] = (),
) -> int:
    deadline = time.monotonic() + timeout_s
    got = 0
    while time.monotonic() < deadline:
        got = await committed(kafka, group, topic)
        if got >= target:
            return got
        for p in procs:
            if p.proc is not None and not p.alive():
                raise AssertionError(f"worker exited early:\n{p.log_tail()}")
        await asyncio.sleep(0.3)
    tails = "\n---\n".join(p.log_tail() for p in procs)
    raise AssertionError(f"only {got}/{target} offsets committed after {timeout_s}s\n{tails}")


__all__ = [
    "TopicPartition",
    "WorkerProc",
    "committed",
    "free_port",
    "group_members",
    "produce",
    "wait_committed",
]
