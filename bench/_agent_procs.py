"""Process helpers for the agent benchmarks: fake upstream, agent, Kafka, RSS."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout_s: float = 30.0, check: str | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url, timeout=1)
            if r.status_code == 200 and (check is None or check in r.text):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


def _ready_or_stop(
    proc: subprocess.Popen[bytes], url: str, timeout_s: float = 30.0, check: str | None = None
) -> None:
    """Wait until ``url`` answers; a process that never gets ready is stopped, not left behind."""
    try:
        wait_http(url, timeout_s, check)
    except BaseException:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise


def start_fake(latency_ms: float, chunk_delay_ms: float = 0.0) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lightkeeper.demo.fake_provider",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            "--chunk-delay-ms",
            str(chunk_delay_ms),
        ],
    )
    url = f"http://127.0.0.1:{port}"
    _ready_or_stop(proc, url + "/healthz")
    return proc, url


def start_agent(upstream: str, bootstrap: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lightkeeper",
            "--log-level",
            "WARNING",
            "agent",
            "--port",
            str(port),
            "--openai-base-url",
            upstream,
            "--kafka-bootstrap",
            bootstrap,
            "--topic-prefix",
            f"bench-{uuid.uuid4().hex[:8]}.",
            "--spool-dir",
            str(workdir / "spool"),
            "--data-dir",
            str(workdir),
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    _ready_or_stop(proc, url + "/readyz", 60, check='"kafka": true')
    return proc, url


def start_kafka() -> tuple[object | None, str]:
    """The broker named by $LIGHTKEEPER_KAFKA_BOOTSTRAP, else a fresh local dev broker."""
    external = os.environ.get("LIGHTKEEPER_KAFKA_BOOTSTRAP")
    if external:
        return None, external
    from lightkeeper.kafka.devbroker import DevBroker

    broker = DevBroker.ephemeral(Path(tempfile.mkdtemp(prefix="lk-bench-kafka-")))
    broker.start()
    return broker, broker.bootstrap


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB."""
    cur = peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cur, peak


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
