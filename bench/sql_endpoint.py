"""The read-only SQL endpoint of ``lightkeeper up`` under a runaway query and a large result.

Starts ``lightkeeper up`` (no ML stages) in a temporary data directory, then measures:

* how long ``SELECT count() FROM numbers(1e12)`` runs before the engine stops it (the
  endpoint's ``max_execution_time``, 60 s by default);
* meanwhile: the latency of other queries through the endpoint and of posted events reaching
  the store;
* the resident memory of ``up`` before and after a 5M-row query (answer capped in rows/bytes);
* how long SIGTERM takes to stop ``up`` while a runaway query runs.

    nice -n 10 python bench/sql_endpoint.py [--skip-limit]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from lightkeeper.runtime.query_endpoint import RUNTIME_FILE, RuntimeInfo, query_runtime, read_runtime_file

RUNAWAY = "SELECT count() FROM numbers(1e12)"
PROBE = (
    "SELECT count() AS n FROM system.processes WHERE query LIKE '%numbers(1e12)%' "
    "AND query NOT LIKE '%system.processes%'"
)


def _rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of ``pid`` in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return rss / 1024, hwm / 1024


def _start_up(data_dir: Path) -> tuple[subprocess.Popen[bytes], str, RuntimeInfo]:
    env = {**os.environ, "LIGHTKEEPER_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    for name in ("LIGHTKEEPER_STORE__URL", "LIGHTKEEPER_STORE__DATABASE", "LIGHTKEEPER_CONFIG"):
        env.pop(name, None)
    log = (data_dir / "up.out").open("wb")
    cmd = [
        sys.executable,
        "-m",
        "lightkeeper",
        "up",
        "--port",
        "0",
        "--stages",
        "",
        "--data-dir",
        str(data_dir),
    ]
    proc = subprocess.Popen(cmd, cwd=data_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = (data_dir / "up.out").read_text(errors="replace")
        info = read_runtime_file(data_dir / RUNTIME_FILE)
        found = re.search(r"agent on (http://[0-9.]+:\d+)", text)
        if found and info is not None:
            return proc, found.group(1), info
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"lightkeeper up did not start:\n{(data_dir / 'up.out').read_text(errors='replace')}")


def _runaway(info: RuntimeInfo, outcome: list[Any]) -> threading.Thread:
    def run() -> None:
        started = time.monotonic()
        try:
            query_runtime(info, RUNAWAY, timeout_s=600)
            outcome.append(("answered", time.monotonic() - started))
        except Exception as exc:
            outcome.append((str(exc).split("\n")[0][-120:], time.monotonic() - started))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and orjson.loads(query_runtime(info, PROBE)[0]) != [{"n": 1}]:
        time.sleep(0.1)
    return thread


def _post_events(agent: str, app: str, n: int) -> None:
    from tests.worker.helpers import event

    events = [event(i, app=app).model_dump(mode="json") for i in range(n)]
    request = urllib.request.Request(
        f"{agent}/v1/events", data=orjson.dumps(events), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-limit", action="store_true", help="do not wait for the 60 s time limit")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        proc, agent, info = _start_up(data_dir)
        try:
            rss0 = _rss_mb(proc.pid)
            outcome: list[Any] = []
            thread = _runaway(info, outcome)
            latencies = []
            for _ in range(20):
                started = time.monotonic()
                query_runtime(info, "SELECT count() FROM system.one")
                latencies.append((time.monotonic() - started) * 1000)
            latencies.sort()
            print(
                f"other queries during the runaway one: median {latencies[10]:.1f} ms, "
                f"max {latencies[-1]:.1f} ms"
            )
            started = time.monotonic()
            _post_events(agent, "bench-during-runaway", 50)
            count = "SELECT count() AS n FROM events_dedup WHERE app = 'bench-during-runaway'"
            while orjson.loads(query_runtime(info, count)[0]) != [{"n": 50}]:
                time.sleep(0.05)
            print(f"50 posted events stored during the runaway query in {time.monotonic() - started:.2f} s")
            if not args.skip_limit:
                thread.join(600)
                print(f"runaway query {RUNAWAY!r}: stopped after {outcome[0][1]:.1f} s ({outcome[0][0]})")

            started = time.monotonic()
            body, rows, truncated = query_runtime(
                info, "SELECT number, toString(number) AS s FROM numbers(5000000)", fmt="json", timeout_s=300
            )
            rss1 = _rss_mb(proc.pid)
            print(
                f"5M-row query: answered in {time.monotonic() - started:.1f} s, {rows} rows, "
                f"{len(body) / 1e6:.1f} MB, truncated={truncated}; up RSS {rss0[0]:.0f} -> {rss1[0]:.0f} MB "
                f"(peak {rss1[1]:.0f} MB)"
            )
            body, rows, truncated = query_runtime(
                info, "SELECT number, repeat('x', 1000) AS s FROM numbers(5000000)", fmt="csv", timeout_s=300
            )
            rss2 = _rss_mb(proc.pid)
            print(
                f"5M rows x 1 KB: {rows} rows, {len(body) / 1e6:.1f} MB, truncated={truncated}; "
                f"up RSS {rss2[0]:.0f} MB (peak {rss2[1]:.0f} MB)"
            )

            outcome.clear()
            thread = _runaway(info, outcome)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(120)
            print(
                f"SIGTERM with a runaway query running: up exited {code} "
                f"in {time.monotonic() - started:.1f} s"
            )
            thread.join(30)
            print(f"  the runaway query's client got: {outcome[0][0] if outcome else 'nothing yet'}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
