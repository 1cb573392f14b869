"""Migrations: apply, re-apply as a no-op, refuse an edited or missing file, templating."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from lightkeeper.errors import ConfigError, MigrationError
from lightkeeper.store import connect, release
from lightkeeper.store.migrate import (
    MIGRATIONS_DIR,
    TemplateContext,
    applied,
    discover,
    migrate,
    split_statements,
)

TABLES = {"events", "scores", "drift", "anomalies", "alerts", "rollup_minute", "schema_migrations"}
VIEWS = {"events_dedup", "scores_dedup", "drift_dedup", "anomalies_dedup", "alerts_latest", "rollup_minute_v"}


@pytest.fixture
def fresh(store_url: str):
    """A database name that does not exist yet, dropped afterwards, and a client."""
    name = f"lk_mig_{uuid.uuid4().hex[:10]}"
    client = connect(store_url, name)
    yield client, name
    client.command(f"DROP DATABASE IF EXISTS {name} SYNC")
    release(store_url, name)


def _tables(client, database: str) -> dict[str, str]:
    rows = client.query(
        "SELECT name, engine FROM system.tables WHERE database = {db:String}", parameters={"db": database}
    ).result_rows
    return dict(rows)


def test_migrate_applies_all_then_is_a_noop(fresh):
    client, db = fresh
    versions = [m.version for m in discover()]
    assert migrate(client, db) == versions
    tables = _tables(client, db)
    assert TABLES | VIEWS | {"rollup_minute_mv"} <= set(tables)
    assert tables["events"] == "ReplacingMergeTree"
    assert tables["rollup_minute"] == "AggregatingMergeTree"
    assert tables["rollup_minute_mv"] == "MaterializedView"
    before = client.query(
        f"SELECT version, checksum, applied_at FROM {db}.schema_migrations ORDER BY version"
    ).result_rows

    assert migrate(client, db) == []
    after = client.query(
        f"SELECT version, checksum, applied_at FROM {db}.schema_migrations ORDER BY version"
    ).result_rows
    assert after == before
    assert _tables(client, db) == tables
    assert client.database == db


def test_checksums_are_recorded(fresh):
    client, db = fresh
    migrate(client, db)
    recorded = applied(client, db)
    for m in discover():
        assert recorded[m.version] == (m.name, m.checksum)


def _copy_migrations(tmp_path: Path) -> Path:
    target = tmp_path / "clickhouse"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


def test_refuses_an_edited_applied_file(fresh, tmp_path):
    client, db = fresh
    directory = _copy_migrations(tmp_path)
    migrate(client, db, directory=directory)
    edited = directory / "0002_derived.sql"
    edited.write_text(edited.read_text() + "\n-- a harmless looking edit\n")
    with pytest.raises(MigrationError, match=r"0002_derived\.sql was edited after it was applied"):
        migrate(client, db, directory=directory)


def test_refuses_a_missing_applied_file(fresh, tmp_path):
    client, db = fresh
    directory = _copy_migrations(tmp_path)
    migrate(client, db, directory=directory)
    (directory / "0003_rollup_minute.sql").unlink()
    with pytest.raises(MigrationError, match=r"0003_rollup_minute.*file is missing"):
        migrate(client, db, directory=directory)


def test_applies_only_the_new_file(fresh, tmp_path):
    client, db = fresh
    directory = _copy_migrations(tmp_path)
    migrate(client, db, directory=directory)
    (directory / "0099_extra.sql").write_text(
        "-- a later change is a new file\n"
        "CREATE TABLE IF NOT EXISTS {database}.extra {on_cluster} (x UInt8)\n"
        "ENGINE = {replicated}MergeTree ORDER BY x;\n"
    )
    assert migrate(client, db, directory=directory) == [99]
    assert "extra" in _tables(client, db)
    assert migrate(client, db, directory=directory) == []


def test_failed_statement_names_the_file_and_is_not_recorded(fresh, tmp_path):
    client, db = fresh
    directory = _copy_migrations(tmp_path)
    (directory / "0050_broken.sql").write_text(
        "CREATE TABLE {database}.broken (x NoSuchType) ENGINE = Memory;\n"
    )
    with pytest.raises(MigrationError, match=r"0050_broken\.sql: statement failed"):
        migrate(client, db, directory=directory)
    assert 50 not in applied(client, db)
    assert {1, 2, 3} <= set(applied(client, db))


def test_bad_file_names_and_duplicates(tmp_path):
    (tmp_path / "1_x.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_lowercase_name"):
        discover(tmp_path)
    (tmp_path / "1_x.sql").unlink()
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="share version 1"):
        discover(tmp_path)


def test_ttl_comes_from_configuration(fresh):
    client, db = fresh
    migrate(client, db, events_ttl_days=7, derived_ttl_days=0)
    events_ddl = client.query(f"SHOW CREATE TABLE {db}.events").result_rows[0][0]
    scores_ddl = client.query(f"SHOW CREATE TABLE {db}.scores").result_rows[0][0]
    assert "toIntervalDay(7)" in events_ddl
    assert "TTL" not in scores_ddl  # 0 disables expiry


def test_template_rendering_for_a_cluster():
    ctx = TemplateContext(database="lk", cluster="main", events_ttl_days=30)
    sql = ctx.render(
        "CREATE TABLE {database}.t {on_cluster} (x UInt8) ENGINE = {replicated}MergeTree {ttl_events:ts}"
    )
    assert sql == (
        "CREATE TABLE lk.t ON CLUSTER `main` (x UInt8) ENGINE = ReplicatedMergeTree "
        "TTL toDateTime(ts) + toIntervalDay(30)"
    )
    single = TemplateContext(database="lk").render("{on_cluster}{replicated}MergeTree")
    assert single == "MergeTree"
    with pytest.raises(MigrationError, match="unknown placeholder"):
        ctx.render("SELECT {nope}")


def test_identifiers_are_checked():
    with pytest.raises(ConfigError):
        TemplateContext(database="lk; DROP TABLE x").render("{database}")
    with pytest.raises(ConfigError):
        TemplateContext(database="lk", cluster="c`x").render("{on_cluster}")


def test_split_statements_skips_comments():
    sql = "-- header; with a semicolon;\nCREATE TABLE a (x UInt8)\nENGINE = Memory;\n\nSELECT 1;  \n-- end\n"
    assert split_statements(sql) == ["CREATE TABLE a (x UInt8)\nENGINE = Memory", "SELECT 1"]


def test_every_shipped_file_renders_without_unknown_placeholders():
    ctx = TemplateContext(database="lk", cluster="c")
    for m in discover():
        for statement in split_statements(ctx.render(m.text)):
            assert "{" not in statement, (m.path.name, statement[:80])


def test_ttl_setting_changes_are_applied_and_otherwise_nothing_changes(fresh):
    client, db = fresh
    migrate(client, db, events_ttl_days=90, derived_ttl_days=365)

    def ddl(table: str) -> str:
        return client.query(f"SHOW CREATE TABLE {db}.{table}").result_rows[0][0]

    before = {t: ddl(t) for t in ("events", "scores", "rollup_minute", "alerts")}
    assert migrate(client, db, events_ttl_days=90, derived_ttl_days=365) == []
    assert {t: ddl(t) for t in before} == before

    assert migrate(client, db, events_ttl_days=30, derived_ttl_days=0) == []
    assert "toIntervalDay(30)" in ddl("events")
    assert "TTL" not in ddl("scores") and "TTL" not in ddl("rollup_minute")
    assert migrate(client, db, events_ttl_days=30, derived_ttl_days=400) == []
    assert "toIntervalDay(400)" in ddl("alerts") and "toIntervalDay(400)" in ddl("rollup_minute")
