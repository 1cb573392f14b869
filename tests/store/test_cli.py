"""`lightkeeper migrate` and `lightkeeper sql` against the embedded store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
from _store_events import make_event

from lightkeeper.cli.main import main
from lightkeeper.schemas.rows import event_row
from lightkeeper.store.writer import BatchWriter


def _cli(store_url: str, db: str, *args: str) -> list[str]:
    return [*args, "--url", store_url, "--database", db]


def test_sql_prints_a_table(store_url, store_client, store_database, capsys):
    BatchWriter(store_client, "events", database=store_database).write(
        [event_row(make_event(i)) for i in range(4)]
    )
    assert (
        main(
            _cli(store_url, store_database, "sql", "SELECT app, count() AS n FROM events_dedup GROUP BY app")
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].split("|")[0].strip() == "app" and out[0].split("|")[1].strip() == "n"
    assert out[2].split("|")[0].strip() == "chat" and out[2].split("|")[1].strip() == "4"
    assert out[-1] == "(1 row)"


def test_sql_params_and_formats(store_url, store_client, store_database, capsys, tmp_path):
    BatchWriter(store_client, "events", database=store_database).write(
        [event_row(make_event(i, app="x' OR 1=1 --")) for i in range(2)] + [event_row(make_event(9))]
    )
    query = "SELECT app, count() AS n FROM events_dedup WHERE app = {app:String} GROUP BY app"
    args = _cli(store_url, store_database, "sql", query, "--param", "app=x' OR 1=1 --", "--format", "json")
    assert main(args) == 0
    assert orjson.loads(capsys.readouterr().out) == [{"app": "x' OR 1=1 --", "n": 2}]

    args = _cli(
        store_url, store_database, "sql", "SELECT {n:UInt8} + 1 AS m", "--param", "n=4", "--format", "csv"
    )
    assert main(args) == 0
    assert capsys.readouterr().out == "m\n5\n"

    target = tmp_path / "out.parquet"
    args = _cli(
        store_url,
        store_database,
        "sql",
        "SELECT event_id FROM events_dedup ORDER BY event_id",
        "--format",
        "parquet",
        "-o",
        str(target),
    )
    assert main(args) == 0
    assert pq.read_table(target).num_rows == 3


def test_sql_errors_are_clear(store_url, store_database, capsys):
    assert main(_cli(store_url, store_database, "sql", "SELECT * FROM missing_table")) == 1
    assert "query failed" in capsys.readouterr().err
    assert main(_cli(store_url, store_database, "sql", "SELECT 1", "--param", "no-equals")) == 1
    assert "--param must be name=value" in capsys.readouterr().err


def test_migrate_status(store_url, store_database, capsys):
    assert main(_cli(store_url, store_database, "migrate")) == 0
    assert "is up to date" in capsys.readouterr().out
    assert main(_cli(store_url, store_database, "migrate", "--status")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.endswith("applied") for line in lines)


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIGHTKEEPER_DATA_DIR": str(data_dir)}
    env.pop("LIGHTKEEPER_STORE__URL", None)
    return subprocess.run(
        [sys.executable, "-m", "lightkeeper", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=data_dir,
    )


def test_done_criterion_in_a_fresh_process(tmp_path):
    """`lightkeeper migrate` then `sql "SELECT count() FROM events"` on the default embedded store;
    a second migrate changes nothing. Separate processes: chdb allows one data dir per process."""
    first = _run(["migrate"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_events.sql" in first.stdout
    assert (tmp_path / "store").is_dir()
    second = _run(["migrate"], tmp_path)
    assert second.returncode == 0 and "up to date" in second.stdout, second.stderr
    count = _run(["sql", "SELECT count() FROM events"], tmp_path)
    assert count.returncode == 0, count.stderr
    assert count.stdout.splitlines()[2].strip() == "0"


def test_sql_is_read_only_unless_write(store_url, store_client, store_database, capsys):
    create = "CREATE TABLE scratch (x UInt8) ENGINE = Memory"
    assert main(_cli(store_url, store_database, "sql", create)) == 1
    assert "readonly" in capsys.readouterr().err.lower()
    assert main(_cli(store_url, store_database, "sql", "DROP TABLE events")) == 1
    assert main(_cli(store_url, store_database, "sql", create, "--write")) == 0
    query = "SELECT name FROM system.tables WHERE database = {db:String}"
    names = store_client.query(query, parameters={"db": store_database}).result_rows
    assert ("scratch",) in names and ("events",) in names
    # the shared client is not left in read-only mode
    store_client.command(f"INSERT INTO {store_database}.scratch VALUES (1)")


def test_migrate_print_sql_applies_nothing(store_url, capsys):
    import uuid

    from lightkeeper.store import release

    name = f"lk_print_{uuid.uuid4().hex[:8]}"
    try:
        assert main(_cli(store_url, name, "migrate", "--print-sql")) == 0
        out = capsys.readouterr().out
        assert "-- 0001_events.sql (sha256 " in out and f"CREATE TABLE IF NOT EXISTS {name}.events" in out
        assert "TTL toDateTime(start_time) + toIntervalDay(90)" in out and "{" not in out
        assert main(_cli(store_url, name, "migrate", "--status")) == 0
        assert all(line.endswith("pending") for line in capsys.readouterr().out.splitlines())
    finally:
        release(store_url, name)
