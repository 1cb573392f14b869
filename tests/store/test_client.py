"""connect(): caching, URL checks, one chdb directory per process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from lightkeeper.errors import ConfigError, StoreError, StoreUnavailable
from lightkeeper.store import connect
from lightkeeper.store.client import chdb_path, database_exists


def test_one_client_per_path_and_database(store_url, store_database):
    assert connect(store_url, store_database) is connect(store_url, store_database)
    assert connect(store_url, store_database).database == store_database


def test_rejects_bad_urls_and_names(store_url):
    with pytest.raises(ConfigError, match="unsupported store URL"):
        connect("ftp://example.org")
    with pytest.raises(ConfigError, match="invalid database name"):
        connect(store_url, "x; DROP DATABASE y")


def test_second_directory_in_one_process_is_refused(store_url, store_client, tmp_path):
    if chdb_path(store_url) is None:
        pytest.skip("the suite runs against a ClickHouse server, not the embedded store")
    with pytest.raises(StoreError, match="one per process"):
        connect(f"chdb://{tmp_path / 'other'}")


def test_directory_locked_by_another_process(tmp_path):
    path = tmp_path / "store"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from lightkeeper.store import connect
            connect("chdb://{path}")
            print("ready", flush=True)
            sys.stdin.readline()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                textwrap.dedent(f"""
                from lightkeeper.errors import StoreUnavailable
                from lightkeeper.store import connect
                try:
                    connect("chdb://{path}")
                except StoreUnavailable as exc:
                    print("unavailable:", exc)
            """),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "unavailable:" in probe.stdout and "another process" in probe.stdout
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def test_database_exists(store_client, store_database):
    assert database_exists(store_client, store_database)
    assert not database_exists(store_client, "lk_surely_missing")


def test_unreachable_server_is_unavailable():
    with pytest.raises(StoreUnavailable):
        connect("http://127.0.0.1:1/")


def test_cached_client_picks_up_a_database_created_later(store_url):
    import uuid

    from lightkeeper.store import release
    from lightkeeper.store.migrate import migrate

    name = f"lk_late_{uuid.uuid4().hex[:8]}"
    early = connect(store_url, name)  # before the database exists: default database
    assert early.database != name
    other = connect(store_url, "lightkeeper_other_client")
    try:
        migrate(other, name)  # created through another client
        assert connect(store_url, name) is early
        assert early.database == name
        assert early.query("SELECT count() FROM events").result_rows == [(0,)]
    finally:
        other.command(f"DROP DATABASE IF EXISTS {name} SYNC")
        release(store_url, name)
        release(store_url, "lightkeeper_other_client")
