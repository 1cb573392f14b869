"""Run ``lightkeeper worker`` processes and inspect Kafka groups and their stores (tests)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from lightkeeper.settings import KafkaSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WorkerProc:
    """One ``lightkeeper worker`` subprocess with its own embedded store."""

    def __init__(
        self,
        kafka: KafkaSettings,
        app_id: str,
        root: Path,
        *,
        batch_max: int = 500,
        metrics_port: int = 0,
        extra: Sequence[str] = (),
        config: Path | None = None,
        stages: str = "",
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.store_url = f"chdb://{root / 'store'}"
        self.log = root / "worker.log"
        self.args = [
            sys.executable,
            "-m",
            "lightkeeper",
            "--log-level",
            "WARNING",
            *(["--config", str(config)] if config else []),
            "worker",
            "--bootstrap",
            kafka.bootstrap_servers,
            "--topic-prefix",
            kafka.topic_prefix,
            "--app-id",
            app_id,
            "--store-url",
            self.store_url,
            "--data-dir",
            str(root),
            "--batch-max",
            str(batch_max),
            "--batch-within",
            "0.2",
            "--metrics-port",
            str(metrics_port),
            "--stages",
            stages,
            *extra,
        ]
        self.env = {
            **os.environ,
            "LIGHTKEEPER_KAFKA__PARTITIONS": str(kafka.partitions),
            "HF_HUB_OFFLINE": "1",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProc:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode or 0)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:]) if self.log.exists() else ""

    def query(self, sql: str) -> list[list[Any]]:
        """Run ``sql`` on this worker's store in a fresh process (chdb: one process per store)."""
        code = (
            "import json,sys\nfrom lightkeeper.store import connect\n"
            f"c=connect({self.store_url!r},'lightkeeper')\n"
            "rows=c.query(sys.argv[1]).result_rows\n"
            "print(json.dumps([[str(v) if v is not None else None for v in r] for r in rows]))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, sql], capture_output=True, env=self.env, timeout=60, check=True
        )
        return json.loads(out.stdout.decode().strip().splitlines()[-1])


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
