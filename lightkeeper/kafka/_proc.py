"""Process helpers for the development broker: identity checks, termination, free ports, and a
watchdog that stops the broker when the process that started it dies, however it dies.

Run as ``python -m lightkeeper.kafka._proc <pid> <starttime>`` it is the watchdog: it blocks on
stdin (a pipe whose write end only the starting process holds) and, at EOF, terminates the
broker if it is still the same process.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import sys
import time
from pathlib import Path


def proc_start_time(pid: int) -> int | None:
    """Kernel start time of ``pid`` (clock ticks since boot), or ``None`` if it is gone/a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def proc_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def alive(pid: int, start_time: int | None = None) -> bool:
    """Whether ``pid`` runs (and, when ``start_time`` is given, is still that same process)."""
    current = proc_start_time(pid)
    if current is None:
        return False
    return start_time is None or current == start_time


def terminate(pid: int, start_time: int | None, timeout_s: float) -> bool:
    """SIGTERM ``pid``, wait up to ``timeout_s``, then SIGKILL. Returns whether it had to kill."""
    if not alive(pid, start_time):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    if wait_gone(pid, start_time, timeout_s):
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    wait_gone(pid, start_time, 10.0)
    return True


def wait_gone(pid: int, start_time: int | None, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid, start_time):
            return True
        time.sleep(0.05)
    return not alive(pid, start_time)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free now, chosen below the kernel's ephemeral range when possible.

    Outgoing connections (e.g. clients reconnecting while a test broker is stopped) take their
    local ports from the ephemeral range, so a listening port outside it can be bound again
    after a restart.
    """
    low = _ephemeral_low()
    rng = random.SystemRandom()
    for _ in range(50):
        port = rng.randrange(max(1024, low - 12000), low)
        if port_free(host, port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def accepts(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _watch(pid: int, start_time: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass
    terminate(pid, start_time, timeout_s=20.0)


if __name__ == "__main__":  # pragma: no cover - exercised through DevBroker in a subprocess
    _watch(int(sys.argv[1]), int(sys.argv[2]))
