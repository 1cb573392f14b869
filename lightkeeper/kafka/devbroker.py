"""A single-node Apache Kafka 4.x broker (KRaft, broker+controller in one JVM) for development,
tests and benchmarks.

The jars come from Maven Central through :mod:`lightkeeper.kafka.distribution` (cached). Files
under ``data_dir``::

    server.properties  log4j2.properties  broker.log (the broker's log)  jvm.out (stdout/stderr)
    broker.pid         JSON: pid, start time, ports, version; lets another process stop it
    kraft/             KRaft metadata and topic data (formatted once, kept across restarts)

Lifecycle: :meth:`DevBroker.start` formats storage on first use, launches the JVM and returns
once a real client fetches metadata; :meth:`DevBroker.stop` sends SIGTERM, waits, then SIGKILL.
Unless ``detach=True`` (the ``lightkeeper dev kafka up`` command), the broker never outlives the
process that started it: an ``atexit`` hook stops it, and a watchdog process stops it if the
starter dies without running exit hooks (SIGKILL, crash).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lightkeeper.errors import KafkaError
from lightkeeper.kafka import _cds, _proc
from lightkeeper.kafka._config import log4j2_properties, server_properties
from lightkeeper.kafka._sync import probe
from lightkeeper.kafka.distribution import DEFAULT_KAFKA_VERSION, find_java, resolve

log = logging.getLogger(__name__)


class BrokerPortInUse(KafkaError):
    """The broker's port (or controller port) is taken by another process."""


@dataclass(frozen=True)
class BrokerStatus:
    """What ``broker.pid`` says and whether that broker answers."""

    running: bool
    ready: bool
    pid: int | None
    bootstrap: str | None
    version: str | None
    data_dir: Path


class DevBroker:
    """One local Kafka broker. ``bootstrap`` is ``"host:port"`` for clients."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        port: int = 9092,
        controller_port: int | None = None,
        host: str = "127.0.0.1",
        version: str = DEFAULT_KAFKA_VERSION,
        heap_mb: int = 512,
        jvm_opts: list[str] | None = None,
        fast_start: bool = True,
        overrides: Mapping[str, str] | None = None,
        detach: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port
        self.controller_port = controller_port if controller_port is not None else _proc.free_port(host)
        self.version = version
        self.heap_mb = heap_mb
        self.jvm_opts = list(jvm_opts or [])
        self.fast_start = fast_start
        self.overrides = dict(overrides or {})
        self.detach = detach
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._launched: tuple[_cds.CdsPlan, Path, str] | None = None
        self._start_time: int | None = None
        self._lock = threading.Lock()

    @classmethod
    def ephemeral(cls, data_dir: str | Path, **kwargs: Any) -> DevBroker:
        """A broker on free loopback ports chosen now (kept across stop/start)."""
        host = kwargs.pop("host", "127.0.0.1")
        return cls(
            data_dir, port=_proc.free_port(host), controller_port=_proc.free_port(host), host=host, **kwargs
        )

    # -- paths ---------------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def pid(self) -> int | None:
        return self._pid if self.is_running() else None

    # -- lifecycle -----------------------------------------------------------------------
    def is_running(self) -> bool:
        """Whether this broker's JVM is alive (not necessarily ready)."""
        return self._pid is not None and _proc.alive(self._pid, self._start_time)

    def ready(self, timeout_s: float = 5.0) -> bool:
        """Whether a client can fetch metadata from the broker now."""
        if not _proc.accepts(self.host, self.port):
            return False
        return probe(self.bootstrap, timeout_s)

    def start(self, timeout_s: float = 90.0) -> float:
        """Start the broker (formatting storage on first use) and wait until clients can use it.

        Returns the seconds taken. A no-op when already running. Raises :class:`BrokerPortInUse`
        when a port is taken and :class:`KafkaError` when the JVM exits or is not ready in time
        (the broker is then stopped; its log tail is in the message).
        """
        with self._lock:
            if self.is_running():
                return 0.0
            began = time.monotonic()
            other = read_pid_file(self.data_dir)
            if other is not None and _proc.alive(other["pid"], other.get("start_time")):
                raise KafkaError(f"another broker (pid {other['pid']}) already runs on {self.data_dir}")
            for p in (self.port, self.controller_port):
                if not _proc.port_free(self.host, p):
                    raise BrokerPortInUse(f"port {self.host}:{p} is in use")
            dist = resolve(self.version)
            java = find_java()
            props = self._write_config()
            if not (self.data_dir / "kraft" / "meta.properties").exists():
                self._format(java, dist.classpath, props)
            cds = _cds.plan(dist, java, record=not self.detach)
            self._launch(java, dist.classpath, props, cds)
        try:
            self._wait_ready(began + timeout_s)
        except BrokerPortInUse:
            self.stop()
            raise
        except KafkaError:
            self.stop()
            if cds.archive is None or cds.recording is not None:
                raise
            log.warning("Kafka failed to start with class-data archive %s; retrying without it", cds.archive)
            _cds.discard(cds)
            return self.start(max(1.0, timeout_s - (time.monotonic() - began)))
        except BaseException:
            self.stop()
            raise
        took = time.monotonic() - began
        log.info("Kafka %s ready on %s in %.1fs (pid %s)", self.version, self.bootstrap, took, self._pid)
        return took

    def stop(self, timeout_s: float = 30.0) -> float:
        """Stop the broker: SIGTERM, wait ``timeout_s``, then SIGKILL. Returns the seconds taken."""
        began = time.monotonic()
        with self._lock:
            if self._pid is not None:
                killed = _proc.terminate(self._pid, self._start_time, timeout_s)
                if killed:
                    log.warning("Kafka broker %s did not stop in %.0fs; killed", self._pid, timeout_s)
                if self._proc is not None:
                    self._proc.wait(timeout=10)
                if self._launched is not None and not killed:
                    _cds.publish(*self._launched)
            self._launched = None
            self._close_watchdog()
            self._pid = self._start_time = None
            self._proc = None
            _forget(self)
            self.pid_file.unlink(missing_ok=True)
        return time.monotonic() - began

    async def astart(self, timeout_s: float = 90.0) -> float:
        """:meth:`start` in a worker thread, so the caller's event loop keeps running."""
        return await asyncio.to_thread(self.start, timeout_s)

    async def astop(self, timeout_s: float = 30.0) -> float:
        """:meth:`stop` in a worker thread, so the caller's event loop keeps running."""
        return await asyncio.to_thread(self.stop, timeout_s)

    def restart(self, timeout_s: float = 90.0) -> float:
        """Stop then start on the same ports and data. Returns the start's seconds."""
        self.stop()
        return self.start(timeout_s)

    def log_tail(self, lines: int = 30) -> str:
        out: list[str] = []
        for path in (self.data_dir / "jvm.out", self.log_file):
            try:
                out.extend(path.read_text(errors="replace").splitlines()[-lines:])
            except OSError:
                continue
        return "\n".join(out[-lines:])

    def __enter__(self) -> DevBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------------
    def _write_config(self) -> Path:
        (self.data_dir / "kraft").mkdir(parents=True, exist_ok=True)
        text = server_properties(
            host=self.host,
            port=self.port,
            controller_port=self.controller_port,
            log_dir=self.data_dir / "kraft",
            overrides=self.overrides,
        )
        props = self.data_dir / "server.properties"
        props.write_text(text)
        (self.data_dir / "log4j2.properties").write_text(log4j2_properties(self.log_file))
        return props

    def _jvm_opts(self) -> list[str]:
        return [
            f"-Xmx{self.heap_mb}m",
            f"-Xms{min(256, self.heap_mb)}m",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.data_dir}",
            # C1 only: much less JIT work while starting (2-3x faster on a busy 2-core machine);
            # pass fast_start=False for peak broker throughput in long benchmarks.
            *(["-XX:TieredStopAtLevel=1"] if self.fast_start else []),
            *self.jvm_opts,
        ]

    def _format(self, java: Path, classpath: str, props: Path) -> None:
        cluster_id = new_cluster_id()
        cmd = [
            str(java),
            *self._jvm_opts(),
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(props),
            "--ignore-formatted",
        ]
        output = ""
        for attempt in (1, 2):  # idempotent (--ignore-formatted); a retry rides out transient JVM failures
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=120, check=False, cwd=self.data_dir
            )
            if proc.returncode == 0:
                return
            output = f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}"
            (self.data_dir / f"format-{attempt}.out").write_text(output)
            log.warning(
                "formatting Kafka storage in %s failed (attempt %d): %s",
                self.data_dir,
                attempt,
                output[-500:],
            )
        raise KafkaError(f"formatting Kafka storage failed:\n{output[-2000:]}")

    def _launch(self, java: Path, classpath: str, props: Path, cds: _cds.CdsPlan) -> None:
        cmd = [str(java), *self._jvm_opts(), *cds.flags, "-cp", classpath, "kafka.Kafka", str(props)]
        self._launched = (cds, java, classpath)
        out: IO[bytes]
        with (self.data_dir / "jvm.out").open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        start_time = _proc.proc_start_time(proc.pid)
        self._proc, self._pid, self._start_time = proc, proc.pid, start_time
        write_pid_file(
            self.data_dir,
            {
                "pid": proc.pid,
                "start_time": start_time,
                "host": self.host,
                "port": self.port,
                "controller_port": self.controller_port,
                "version": self.version,
                "detached": self.detach,
            },
        )
        if not self.detach and start_time is not None:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-m", "lightkeeper.kafka._proc", str(proc.pid), str(start_time)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            _remember(self)

    def _close_watchdog(self) -> None:
        dog, self._watchdog = self._watchdog, None
        if dog is None:
            return
        if dog.stdin is not None:
            dog.stdin.close()
        try:
            dog.wait(timeout=30)
        except subprocess.TimeoutExpired:
            dog.kill()
            dog.wait()

    def _wait_ready(self, deadline: float) -> None:
        while True:
            if not self.is_running():
                tail = self.log_tail()
                if "Address already in use" in tail:
                    raise BrokerPortInUse(f"Kafka could not bind {self.bootstrap}:\n{tail}")
                raise KafkaError(f"Kafka exited during start-up; log tail:\n{tail}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KafkaError(f"Kafka not ready on {self.bootstrap} in time; log tail:\n{self.log_tail()}")
            if _proc.accepts(self.host, self.port) and probe(self.bootstrap, min(5.0, max(remaining, 0.5))):
                return
            time.sleep(0.2)


def new_cluster_id() -> str:
    """A random KRaft cluster id (base64url UUID). Like Kafka's ``Uuid.randomUuid`` it never
    starts with ``-``, which the storage tool's argument parser would take for an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


# -- pid file ------------------------------------------------------------------------------
def write_pid_file(data_dir: Path, info: dict[str, Any]) -> None:
    tmp = data_dir / "broker.pid.tmp"
    tmp.write_text(json.dumps({**info, "data_dir": str(data_dir)}))
    tmp.replace(data_dir / "broker.pid")


def read_pid_file(data_dir: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((Path(data_dir) / "broker.pid").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
        return None
    return info


def broker_status(data_dir: str | Path, timeout_s: float = 5.0) -> BrokerStatus:
    """Status of the broker whose pid file is in ``data_dir`` (started by any process)."""
    data_dir = Path(data_dir).resolve()
    info = read_pid_file(data_dir)
    if info is None or not _is_our_broker(info):
        return BrokerStatus(False, False, None, None, None, data_dir)
    bootstrap = f"{info['host']}:{info['port']}"
    ready = _proc.accepts(info["host"], info["port"]) and probe(bootstrap, timeout_s)
    return BrokerStatus(True, ready, info["pid"], bootstrap, info.get("version"), data_dir)


def stop_from_pid_file(data_dir: str | Path, timeout_s: float = 30.0) -> int | None:
    """Stop the broker recorded in ``data_dir/broker.pid``; returns its pid or ``None`` if none ran."""
    data_dir = Path(data_dir).resolve()
    info = read_pid_file(data_dir)
    if info is None:
        return None
    pid = int(info["pid"])
    running = _is_our_broker(info)
    if running:
        _proc.terminate(pid, info.get("start_time"), timeout_s)
    (data_dir / "broker.pid").unlink(missing_ok=True)
    return pid if running else None


def _is_our_broker(info: dict[str, Any]) -> bool:
    """The pid is alive, is the same process, and runs ``kafka.Kafka`` on this data dir."""
    pid = int(info["pid"])
    if not _proc.alive(pid, info.get("start_time")):
        return False
    cmd = _proc.proc_cmdline(pid)
    return "kafka.Kafka" in cmd and any(arg.startswith(str(info.get("data_dir", ""))) for arg in cmd)


# -- stop brokers at interpreter exit -------------------------------------------------------
_LIVE: set[DevBroker] = set()
_LIVE_LOCK = threading.Lock()


def _remember(broker: DevBroker) -> None:
    with _LIVE_LOCK:
        _LIVE.add(broker)


def _forget(broker: DevBroker) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(broker)


@atexit.register
def _stop_all() -> None:
    with _LIVE_LOCK:
        brokers = list(_LIVE)
    for broker in brokers:
        with contextlib.suppress(Exception):  # best effort at exit
            broker.stop(timeout_s=15)


if os.name != "posix":  # pragma: no cover
    raise KafkaError("the development broker needs a POSIX system with /proc")
