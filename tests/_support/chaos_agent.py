"""Agent-process fault scenarios: a real ``lightkeeper agent`` subprocess, a real Kafka broker,
a ``lightkeeper worker`` storing the topic. Shared by ``tests/e2e/test_faults.py`` (shortened)
and ``bench/reliability.py``.

* :func:`agent_killed_in_outage` — calls flow, the broker stops, the agent is SIGKILLed a few
  seconds into the outage (before ``publish_timeout_s``), a new agent starts on the same spool
  and Kafka returns: every call the agent answered 200 must be stored, up to about one second
  of traffic (what a SIGKILL may lose, see ``docs/agent.md``).
* :func:`spool_disk_full` — the agent's spool is a small tmpfs (a private mount namespace,
  ``unshare -m``; needs root or user namespaces); Kafka stops and the disk fills: ``/readyz``
  must answer 503, drops be counted exactly and logged rarely; when Kafka returns the spool
  is replayed and readiness comes back.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from _support.chaos import CallStats, ScenarioResult, WorkerProcess, drive_calls, free_port, wait_caught_up
from _support.chaos_scenarios import PER_REQ, _kafka, _provider
from lightkeeper.settings import KafkaSettings


class AgentProcess:
    """One ``lightkeeper agent`` subprocess; output goes to ``<root>/agent-<n>.log``.

    ``settings`` become ``LIGHTKEEPER_<NAME>`` environment variables. With ``tmpfs_kib`` the
    spool directory is a tmpfs of that size, private to the agent (gone when it exits)."""

    def __init__(
        self,
        upstream: str,
        kafka: KafkaSettings,
        root: Path,
        *,
        tmpfs_kib: int | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.spool = root / "spool"
        self.spool.mkdir(exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / f"agent-{len(list(root.glob('agent-*.log')))}.log"
        args = [
            sys.executable, "-m", "lightkeeper", "--log-level", "INFO", "agent",
            "--port", str(self.port), "--openai-base-url", upstream, "--app-name", "chaos",
            "--kafka-bootstrap", kafka.bootstrap_servers, "--topic-prefix", kafka.topic_prefix,
            "--spool-dir", str(self.spool), "--data-dir", str(root),
        ]  # fmt: skip
        if tmpfs_kib is not None:
            mount = f'mount -t tmpfs -o size={tmpfs_kib}k lk-spool "$0" && exec "$@"'
            args = ["unshare", "-m", "--propagation", "private", "sh", "-c", mount, str(self.spool), *args]
        self.args = args
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "LIGHTKEEPER_KAFKA__PARTITIONS": str(kafka.partitions),
            **{f"LIGHTKEEPER_{k.upper()}": str(v) for k, v in (settings or {}).items()},
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> AgentProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        return self

    async def wait_ready(self, *, kafka: bool, timeout_s: float = 60.0) -> None:
        """Until ``/readyz`` answers 200 (and says kafka=true when ``kafka``)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"agent exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                status, body = await self.readyz()
                if status == 200 and (body.get("kafka") or not kafka):
                    return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        raise TimeoutError(f"agent not ready after {timeout_s:g} s:\n{self.log_tail()}")

    async def readyz(self) -> tuple[int, dict[str, Any]]:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as s, s.get(self.url + "/readyz") as r:
            return r.status, await r.json()

    async def metric(self, name: str, **labels: str) -> float:
        """One sample of ``/metrics`` (0 when absent)."""
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as s, s.get(self.url + "/metrics") as r:
            text = await r.text()
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        pattern = re.escape(name + (f"{{{want}}}" if want else "")) + r" ([0-9.e+-]+)$"
        m = re.search(pattern, text, re.MULTILINE)
        return float(m.group(1)) if m else 0.0

    async def wait_spool_empty(self, timeout_s: float) -> bool:
        """Until Kafka is up and the spool is empty (everything replayed)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                _, body = await self.readyz()
                if body.get("kafka") and body.get("spool_bytes") == 0:
                    return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
        return False

    def kill(self) -> None:
        """SIGKILL: no flush, no shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, n: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])


async def kafka_copies(kafka: KafkaSettings, run: str, timeout_s: float = 30.0) -> collections.Counter[str]:
    """How many times each ``req`` of ``run`` is in the events topic (a count above 1 is a
    double write: a spooled copy replayed although Kafka had the original)."""
    from aiokafka import AIOKafkaConsumer

    from lightkeeper.kafka.client import consumer_kwargs
    from lightkeeper.schemas.codec import decode_event

    consumer = AIOKafkaConsumer(
        kafka.topic("events"), **consumer_kwargs(kafka), auto_offset_reset="earliest",
        enable_auto_commit=False, group_id=None,
    )  # fmt: skip
    counts: collections.Counter[str] = collections.Counter()
    await consumer.start()
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                for m in msgs:
                    tags = decode_event(m.value).tags
                    if tags.get("run") == run:
                        counts[tags.get("req", "")] += 1
            positions = {tp: await consumer.position(tp) for tp in ends}
            if all(positions[tp] >= end for tp, end in ends.items()):
                break
    finally:
        await consumer.stop()
    return counts


def _per_req(worker: WorkerProcess, run: str) -> dict[str, int]:
    return {str(r[0]): int(str(r[1])) for r in worker.query(PER_REQ.format(run=run))}


async def agent_killed_in_outage(
    work: Path, *, rate: float = 100.0, before_s: float = 5.0, kill_after_s: float = 7.0
) -> ScenarioResult:
    """Calls at ``rate``/s; after ``before_s`` the broker stops; ``kill_after_s`` later the agent
    is SIGKILLed (sending stops). Then Kafka returns and a new agent replays the spool.
    lost = calls answered 200 whose event is not in the store (allowed: one second of calls)."""
    run = uuid.uuid4().hex[:8]
    broker, ks = await _kafka(work, f"ak{run}.")
    worker = WorkerProcess(ks, f"lkw-{run}", work / "worker").start()
    first = second = None
    try:
        await worker.wait_ready()
        async with _provider() as upstream:
            first = AgentProcess(upstream, ks, work / "agent").start()
            await first.wait_ready(kafka=True)
            stop = asyncio.Event()
            stats = CallStats()
            n = int(rate * (before_s + kill_after_s + 5))
            traffic = asyncio.create_task(drive_calls(first.url, run, n, rate=rate, stop=stop, stats=stats))
            await asyncio.sleep(before_s)
            await broker.astop()
            t_down = time.monotonic()
            await asyncio.sleep(kill_after_s)
            unacked = await first.metric("lightkeeper_agent_unacked_events")
            spooled_before_kill = await first.metric("lightkeeper_agent_events_total", outcome="spooled")
            stop.set()
            await asyncio.to_thread(first.kill)
            killed_at = time.monotonic() - t_down
            await traffic
            await broker.astart()
            second = AgentProcess(upstream, ks, work / "agent").start()
            replayed = await second.wait_spool_empty(120)
            await asyncio.to_thread(second.stop)
        await wait_caught_up(ks, worker.app_id, ks.topic("events"), 120, [worker])
        in_kafka = await kafka_copies(ks, run)
    finally:
        for agent in (first, second):
            if agent is not None:
                agent.kill()
        worker.stop()
        await broker.astop()
    rows = _per_req(worker, run)
    acked = [str(i) for i in stats.ok_ids]
    lost = sum(1 for r in acked if rows.get(r, 0) == 0)
    dup = sum(c - 1 for c in rows.values() if c > 1)
    double = sum(c - 1 for c in in_kafka.values() if c > 1)
    in_flight = len(stats.failed)  # calls cut off by the kill (never acknowledged)
    note = (
        f"kill {killed_at:.1f}s into the outage; at the kill {unacked:.0f} unacked in memory, "
        f"{spooled_before_kill:.0f} spooled; {in_flight} calls cut off by the kill; "
        f"{double} double-written in Kafka (deduplicated by events_dedup)"
        + ("" if replayed else "; SPOOL NOT REPLAYED")
    )
    return ScenarioResult(
        "agent SIGKILL during Kafka outage", len(acked), sum(rows.get(r, 0) for r in acked), lost, dup,
        0, note=note, lost_allowed=int(rate),
    )  # fmt: skip


async def spool_disk_full(
    work: Path, *, rate: float = 100.0, seconds: float = 8.0, tmpfs_kib: int = 256
) -> ScenarioResult:
    """Kafka stops, calls flow, the agent's spool (a ``tmpfs_kib`` tmpfs) runs out of space;
    then Kafka returns. lost = events neither stored nor counted as dropped (must be 0)."""
    run = uuid.uuid4().hex[:8]
    broker, ks = await _kafka(work, f"sd{run}.")
    worker = WorkerProcess(ks, f"lkw-{run}", work / "worker").start()
    agent = None
    try:
        await worker.wait_ready()
        async with _provider() as upstream:
            agent = AgentProcess(upstream, ks, work / "agent", tmpfs_kib=tmpfs_kib).start()
            await agent.wait_ready(kafka=True)
            await broker.astop()
            t0 = time.monotonic()
            stats = await drive_calls(agent.url, run, int(rate * seconds), rate=rate)
            await asyncio.sleep(1.5)  # the last batches reach the (full) spool
            status_full, body_full = await agent.readyz()
            dropped = await agent.metric("lightkeeper_agent_events_dropped_total", reason="spool_error")
            dropped_full = await agent.metric("lightkeeper_agent_events_dropped_total", reason="spool_full")
            spooled = await agent.metric("lightkeeper_agent_events_total", outcome="spooled")
            copy_acked = await agent.metric("lightkeeper_agent_events_total", outcome="copy_acked")
            full_for = time.monotonic() - t0
            await broker.astart()
            replayed = await agent.wait_spool_empty(120)
            status_after = 0
            for _ in range(50):  # readiness returns once the replay freed the disk
                status_after, _ = await agent.readyz()
                if status_after == 200:
                    break
                await asyncio.sleep(0.2)
            await asyncio.to_thread(agent.stop)
        await wait_caught_up(ks, worker.app_id, ks.topic("events"), 120, [worker])
    finally:
        if agent is not None:
            agent.kill()
        worker.stop()
        await broker.astop()
    rows = _per_req(worker, run)
    stored = sum(rows.get(str(i), 0) for i in stats.ok_ids)
    missing = sum(1 for i in stats.ok_ids if rows.get(str(i), 0) == 0)
    counted = int(dropped + dropped_full)
    log_lines = len(re.findall(r"dropped \d+ event", agent.log_text()))
    tracebacks = agent.log_text().count("Traceback")
    note = (
        f"tmpfs {tmpfs_kib} KiB; /readyz while full {status_full} (spool_writable="
        f"{body_full.get('spool_writable')}), after replay {status_after}; spooled {spooled:.0f}"
        f" (copies acked {copy_acked:.0f}), dropped(counted) {counted}; {log_lines} drop log lines"
        f" and {tracebacks} tracebacks in {full_for:.0f}s" + ("" if replayed else "; SPOOL NOT REPLAYED")
    )
    ok = status_full == 503 and status_after == 200 and missing == counted and replayed
    dup = sum(c - 1 for c in rows.values() if c > 1)
    return ScenarioResult(
        "spool disk full (tmpfs)", len(stats.ok_ids), stored, missing - counted if ok else max(missing, 1),
        dup, len(stats.failed), note=note + ("" if ok else " MISMATCH"),
    )  # fmt: skip


__all__ = ["AgentProcess", "agent_killed_in_outage", "kafka_copies", "spool_disk_full"]
