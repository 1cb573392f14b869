"""Fault-injection helpers for the end-to-end reliability suite and ``bench/reliability.py``.

* :class:`OutageClient` wraps a store client; while an outage is on, every insert fails (the
  writer turns that into ``StoreUnavailable``), reads still work.
* :class:`WorkerProcess` runs ``lightkeeper worker`` as a subprocess with its own chdb store.
* :func:`drive_calls` sends proxied chat calls at a steady rate, each tagged ``run=<id>,req=<i>``.
* :func:`tally` turns per-request store counts into (stored, lost, duplicated).
* :func:`find_secrets` scans collected bytes (Kafka, tables, logs, alert bodies) for secrets.
* :class:`ScenarioResult` and :func:`format_table` print the report table.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from lightkeeper.settings import KafkaSettings

CHAT: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}


class OutageClient:
    """A store client whose inserts fail while :attr:`down` is set (a store outage).

    Every other attribute is the wrapped client's. ``refused`` counts the failed inserts."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._down = threading.Event()
        self.refused = 0
        self.inserts = 0

    @property
    def down(self) -> bool:
        return self._down.is_set()

    def fail_writes(self, on: bool = True) -> None:
        """Start (``on``) or end the outage."""
        if on:
            self._down.set()
        else:
            self._down.clear()

    def fail_for(self, seconds: float) -> threading.Timer:
        """Fail writes now and recover after ``seconds`` (returns the recovery timer)."""
        self.fail_writes(True)
        timer = threading.Timer(seconds, self.fail_writes, args=(False,))
        timer.daemon = True
        timer.start()
        return timer

    def _gate(self) -> None:
        if self._down.is_set():
            self.refused += 1
            raise ConnectionError("chaos: store refuses writes")
        self.inserts += 1

    def insert_arrow(self, *args: Any, **kwargs: Any) -> Any:
        self._gate()
        return self._client.insert_arrow(*args, **kwargs)

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        self._gate()
        return self._client.insert(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WorkerProcess:
    """One ``lightkeeper worker`` subprocess; its store is ``chdb://<root>/store``; output
    (stdout+stderr) goes to ``<root>/worker.log``."""

    def __init__(
        self,
        kafka: KafkaSettings,
        app_id: str,
        root: Path,
        *,
        batch_max: int = 200,
        metrics_port: int = 0,
        stages: str = "",
        config: Path | None = None,
        log_level: str = "INFO",
        extra: Sequence[str] = (),
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.store_url = f"chdb://{root / 'store'}"
        self.log = root / "worker.log"
        self.app_id = app_id
        self.args = [
            sys.executable, "-m", "lightkeeper", "--log-level", log_level,
            *(["--config", str(config)] if config else []),
            "worker",
            "--bootstrap", kafka.bootstrap_servers, "--topic-prefix", kafka.topic_prefix,
            "--app-id", app_id, "--store-url", self.store_url, "--data-dir", str(root),
            "--batch-max", str(batch_max), "--batch-within", "0.2", "--metrics-port", str(metrics_port),
            "--stages", stages, *extra,
        ]  # fmt: skip
        self.env = {
            **os.environ,
            "LIGHTKEEPER_KAFKA__PARTITIONS": str(kafka.partitions),
            "HF_HUB_OFFLINE": "1",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        return self

    async def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Wait until the worker joined its consumer group (its log says partitions were
        assigned; its producer started before that). Raises if it exits or takes longer."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"worker exited before it was ready:\n{self.log_tail()}")
            if self.log.exists() and "Setting newly assigned partitions" in self.log.read_text(
                errors="replace"
            ):
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout_s:g} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL (no cleanup, no commit)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc is None:
            return 0
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

    def log_tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:]) if self.log.exists() else ""

    def query(self, sql: str) -> list[list[str | None]]:
        """Run ``sql`` on the (stopped) worker's store in a fresh process (one process per chdb dir)."""
        code = (
            "import json,sys\nfrom lightkeeper.store import connect\n"
            f"c=connect({self.store_url!r},'lightkeeper')\n"
            "rows=c.query(sys.argv[1]).result_rows\n"
            "print(json.dumps([[str(v) if v is not None else None for v in r] for r in rows]))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, sql], capture_output=True, env=self.env, timeout=120, check=True
        )
        result: list[list[str | None]] = json.loads(out.stdout.decode().strip().splitlines()[-1])
        return result


async def group_lag(kafka: KafkaSettings, group: str, topic: str) -> int:
    """End offsets of ``topic`` minus ``group``'s committed offsets (uncommitted partitions count fully)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        except KafkaError:  # coordinator not there yet (fresh broker or group)
            return -1
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        from aiokafka.structs import TopicPartition

        tps = [TopicPartition(topic, p) for p in parts]
        ends = await consumer.end_offsets(tps) if tps else {}
        done = {tp: max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic == topic}
        return sum(end - done.get(tp, 0) for tp, end in ends.items())
    finally:
        await consumer.stop()
        await admin.close()


async def wait_caught_up(
    kafka: KafkaSettings, group: str, topic: str, timeout_s: float, workers: Sequence[WorkerProcess] = ()
) -> None:
    """Wait until ``group`` committed everything in ``topic`` (raises with the worker log)."""
    deadline = time.monotonic() + timeout_s
    lag = -1
    while time.monotonic() < deadline:
        lag = await group_lag(kafka, group, topic)
        if lag == 0:  # -1: not known yet
            return
        for w in workers:
            if w.proc is not None and not w.alive():
                raise AssertionError(f"worker exited early:\n{w.log_tail()}")
        await asyncio.sleep(0.5)
    tails = "\n---\n".join(w.log_tail() for w in workers)
    raise AssertionError(f"group {group} still {lag} behind on {topic} after {timeout_s}s\n{tails}")


@dataclass
class CallStats:
    """What the application saw: calls sent, answered 200, failed (status or exception), and the
    slowest call."""

    sent: int = 0
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    max_latency_s: float = 0.0
    ok_ids: list[int] = field(default_factory=list)
    """``req`` of every call answered 200 (what the agent acknowledged)."""


async def drive_calls(
    url: str,
    run_id: str,
    n: int,
    *,
    rate: float,
    start: int = 0,
    headers: Mapping[str, str] | None = None,
    body: Mapping[str, Any] | None = None,
    stats: CallStats | None = None,
    stop: asyncio.Event | None = None,
) -> CallStats:
    """Send ``n`` chat calls to the agent at ``url`` at ``rate`` per second (concurrently, open
    loop), tagged ``run=<run_id>,req=<i>``; every call must answer 200. Sending ends early when
    ``stop`` is set (calls already sent still finish)."""
    stats = stats or CallStats()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    timeout = aiohttp.ClientTimeout(total=30)

    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(i: int) -> None:
            h = {"X-Lightkeeper-Tags": f"run={run_id},req={i}", **(headers or {})}
            began = loop.time()
            try:
                async with session.post(url + "/v1/chat/completions", json=body or CHAT, headers=h) as r:
                    await r.read()
                    if r.status == 200:
                        stats.ok += 1
                        stats.ok_ids.append(i)
                    else:
                        stats.failed.append(f"req {i}: HTTP {r.status}")
            except Exception as exc:  # the application's view: any failure counts
                stats.failed.append(f"req {i}: {exc!r}")
            stats.max_latency_s = max(stats.max_latency_s, loop.time() - began)

        tasks = []
        for k in range(n):
            delay = t0 + k / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if stop is not None and stop.is_set():
                break
            stats.sent += 1
            tasks.append(asyncio.create_task(one(start + k)))
        await asyncio.gather(*tasks)
    return stats


def tally(sent: int, per_request: Iterable[Sequence[Any]]) -> tuple[int, int, int]:
    """``per_request`` rows are ``(req, count)`` from a view; returns (stored, lost, duplicated)."""
    counts = {str(r[0]): int(r[1]) for r in per_request}
    stored = sum(counts.values())
    lost = sum(1 for i in range(sent) if counts.get(str(i), 0) == 0)
    duplicated = sum(c - 1 for c in counts.values() if c > 1)
    return stored, lost, duplicated


def find_secrets(blobs: Mapping[str, bytes], secrets: Iterable[str]) -> list[tuple[str, str]]:
    """Every (source, secret) where ``secret`` occurs in a blob (raw, JSON-escaped or
    URL-unescaped forms are all plain substrings of the UTF-8 text here)."""
    hits: list[tuple[str, str]] = []
    needles = [s for s in secrets if s]
    for where, data in blobs.items():
        text = data.decode("utf-8", errors="replace")
        for secret in needles:
            if secret in text or secret.encode() in data:
                hits.append((where, secret))
    return hits


@dataclass
class ScenarioResult:
    """One row of the reliability report."""

    scenario: str
    sent: int
    stored: int
    lost: int
    duplicated: int
    app_failures: int = 0
    notif_expected: int | None = None
    notif_sent: int | None = None
    note: str = ""
    lost_allowed: int = 0
    """Loss the product promises at most (a SIGKILLed agent: about one second of traffic)."""

    @property
    def ok(self) -> bool:
        notif_ok = self.notif_expected is None or self.notif_expected == self.notif_sent
        return (
            0 <= self.lost <= self.lost_allowed
            and self.duplicated == 0
            and self.app_failures == 0
            and notif_ok
        )


def format_table(results: Sequence[ScenarioResult]) -> str:
    head = [
        "scenario",
        "sent",
        "stored",
        "lost",
        "dup in views",
        "app failures",
        "notif exp/sent",
        "ok",
        "note",
    ]
    rows = [
        [
            r.scenario, str(r.sent), str(r.stored), str(r.lost), str(r.duplicated), str(r.app_failures),
            "-" if r.notif_expected is None else f"{r.notif_expected}/{r.notif_sent}",
            "yes" if r.ok else "NO", r.note,
        ]
        for r in results
    ]  # fmt: skip
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


__all__ = [
    "CHAT",
    "CallStats",
    "OutageClient",
    "ScenarioResult",
    "WorkerProcess",
    "drive_calls",
    "find_secrets",
    "format_table",
    "free_port",
    "group_lag",
    "tally",
    "wait_caught_up",
]
