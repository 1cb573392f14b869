"""The real scenario: `lightkeeper up` holds the embedded store (chdb locks its data directory
against other processes) and `lightkeeper sql`, another process, goes through its read-only
endpoint instead of failing on the lock."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from lightkeeper.runtime.query_endpoint import RUNTIME_FILE, query_runtime, read_runtime_file
from tests.worker.helpers import event

INJECTION = "x' OR 1=1 --"
ROOT = Path(__file__).resolve().parents[2]


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "LIGHTKEEPER_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("LIGHTKEEPER_STORE__URL", "LIGHTKEEPER_STORE__DATABASE", "LIGHTKEEPER_CONFIG"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture
def up(tmp_path: Path) -> Iterator[tuple[Path, str, subprocess.Popen[bytes]]]:
    """`lightkeeper up` (no ML stages) in its own data dir; yields (data dir, agent URL, process)."""
    log = (tmp_path / "up.out").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lightkeeper",
            "up",
            "--port",
            "0",
            "--stages",
            "",
            "--data-dir",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 45
        agent = ""
        while time.monotonic() < deadline and proc.poll() is None:
            text = (tmp_path / "up.out").read_text(errors="replace")
            if "agent on " in text and (tmp_path / RUNTIME_FILE).exists():
                agent = re.search(r"agent on (http://[0-9.]+:\d+)", text).group(1)  # type: ignore[union-attr]
                break
            time.sleep(0.2)
        assert agent, (tmp_path / "up.out").read_text(errors="replace")
        yield tmp_path, agent, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()


def _sql(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lightkeeper", "sql", *args],
        capture_output=True,
        text=True,
        env=_env(data_dir),
        cwd=data_dir,
        timeout=60,
    )


def test_sql_goes_through_a_running_up(up: tuple[Path, str, subprocess.Popen[bytes]]) -> None:
    data_dir, agent, proc = up
    events = [event(i, app="shop" if i < 8 else INJECTION).model_dump(mode="json") for i in range(10)]
    request = urllib.request.Request(
        f"{agent}/v1/events", data=orjson.dumps(events), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200
    info = read_runtime_file(data_dir / RUNTIME_FILE)
    assert info is not None and info.pid == proc.pid
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body, _, _ = query_runtime(info, "SELECT count() AS n FROM events_dedup")
        if orjson.loads(body) == [{"n": 10}]:
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"events not stored: {body!r}")

    table = _sql(data_dir, "SELECT app, count() AS n FROM events_dedup GROUP BY app ORDER BY app")
    assert table.returncode == 0, table.stderr
    assert "Cannot lock" not in table.stderr  # the engine's own lock message is not shown
    lines = table.stdout.splitlines()
    assert [c.strip() for c in lines[0].split("|")] == ["app", "n"] and lines[-1] == "(2 rows)"
    assert [c.strip() for c in lines[2].split("|")] == ["shop", "8"]

    query = "SELECT count() AS n FROM events_dedup WHERE app = {app:String}"
    csv = _sql(data_dir, query, "--param", f"app={INJECTION}", "--format", "csv")
    assert (csv.returncode, csv.stdout) == (0, "n\n2\n"), csv.stderr
    none = _sql(data_dir, query, "--param", "app=nobody' OR 1=1 --", "--format", "json")
    assert none.returncode == 0 and orjson.loads(none.stdout) == [{"n": 0}], none.stderr

    out = data_dir / "events.parquet"
    parquet = _sql(data_dir, "SELECT event_id FROM events_dedup", "--format", "parquet", "-o", str(out))
    assert parquet.returncode == 0 and pq.read_table(out).num_rows == 10, parquet.stderr

    drop = _sql(data_dir, "DROP TABLE events")
    assert drop.returncode == 1 and "DROP is not allowed" in drop.stderr
    write = _sql(data_dir, "TRUNCATE TABLE events", "--write")
    assert write.returncode == 1 and "only answers read queries" in write.stderr

    # a stale token is refused (401), not silently accepted
    raw = orjson.loads((data_dir / RUNTIME_FILE).read_bytes())
    (data_dir / RUNTIME_FILE).write_bytes(orjson.dumps({**raw, "token": "stolen"}))
    bad = _sql(data_dir, "SELECT 1")
    assert bad.returncode == 1 and "wrong bearer token" in bad.stderr
    (data_dir / RUNTIME_FILE).write_bytes(orjson.dumps(raw))

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert not (data_dir / RUNTIME_FILE).exists()
    # the lock is gone: sql opens the store itself and sees the same data
    direct = _sql(data_dir, query, "--param", "app=shop", "--format", "csv")
    assert (direct.returncode, direct.stdout) == (0, "n\n8\n"), direct.stderr


def test_without_a_runtime_the_lock_error_stays(tmp_path: Path) -> None:
    """A runtime file whose process is gone is ignored: the store simply opens."""
    (tmp_path / RUNTIME_FILE).write_bytes(
        orjson.dumps(
            {
                "pid": 2**22 + 12345,
                "host": "127.0.0.1",
                "port": 9,
                "token": "t",
                "store_path": str((tmp_path / "store").resolve()),
                "database": "lightkeeper",
                "started_at": 0.0,
            }
        )
    )
    result = _sql(tmp_path, "SELECT 1 AS one", "--format", "csv")
    assert (result.returncode, result.stdout) == (0, "one\n1\n"), result.stderr


def test_a_slow_query_holds_up_neither_sql_nor_ingestion_nor_stop(
    up: tuple[Path, str, subprocess.Popen[bytes]],
) -> None:
    """A runaway query through `up`: other `lightkeeper sql` calls and posted events go through
    meanwhile, and SIGTERM stops `up` within seconds instead of waiting for the query."""
    import threading

    data_dir, agent, proc = up
    info = read_runtime_file(data_dir / RUNTIME_FILE)
    assert info is not None
    outcome: list[object] = []

    def runaway() -> None:
        try:
            outcome.append(query_runtime(info, "SELECT count() FROM numbers(1e12)", timeout_s=120))
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=runaway, daemon=True)
    thread.start()
    probe = (
        "SELECT count() AS n FROM system.processes WHERE query LIKE '%numbers(1e12)%' "
        "AND query NOT LIKE '%system.processes%'"
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and orjson.loads(query_runtime(info, probe, timeout_s=10)[0]) != [
        {"n": 1}
    ]:
        time.sleep(0.2)

    started = time.monotonic()
    other = _sql(data_dir, "SELECT 1 AS one", "--format", "csv")
    assert (other.returncode, other.stdout) == (0, "one\n1\n"), other.stderr
    assert time.monotonic() - started < 15  # a new interpreter + chdb import, not the runaway query

    events = [event(i, app="during-runaway").model_dump(mode="json") for i in range(3)]
    request = urllib.request.Request(
        f"{agent}/v1/events", data=orjson.dumps(events), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200
    count = "SELECT count() AS n FROM events_dedup WHERE app = 'during-runaway'"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and orjson.loads(query_runtime(info, count, timeout_s=10)[0]) != [
        {"n": 3}
    ]:
        time.sleep(0.3)
    assert orjson.loads(query_runtime(info, count, timeout_s=10)[0]) == [{"n": 3}]
    assert thread.is_alive()

    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert time.monotonic() - started < 10, time.monotonic() - started
    thread.join(10)
    assert outcome and isinstance(outcome[0], Exception), outcome
