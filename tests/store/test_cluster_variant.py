"""The ClickHouse cluster variant of the migrations (``store.cluster`` set) stays in step with the
single-node schema: every table Replicated and created ON CLUSTER, with a Distributed ``<t>_all``
table and ``<view>_all`` views; and single-node rendering still runs on the embedded engine.

There is no cluster (Keeper, several servers) in the test environment: the cluster-mode
statements are captured from :func:`migrate` with a recording client and checked for structure
and by ClickHouse's own parser (``formatQuerySingleLine`` on chdb)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from lightkeeper.errors import MigrationError
from lightkeeper.store.migrate import TemplateContext, discover, migrate, split_statements

CLUSTER = "lk_cluster"
DB = "lightkeeper"
_CREATE = re.compile(
    r"^CREATE (DATABASE|TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS ([\w.]+)\s*(ON CLUSTER `\w+`)?", re.S
)
_ENGINE = re.compile(r"\bENGINE = (\w+)(\([^)]*\))?")


@dataclass
class _Result:
    result_rows: list[Any]


@dataclass
class RecordingClient:
    """Stands in for a cluster node: records every statement, reports an empty database."""

    commands: list[str] = field(default_factory=list)
    database: str = "default"

    def command(self, sql: str) -> None:
        self.commands.append(" ".join(sql.split()))

    def query(self, sql: str, parameters: Any = None) -> _Result:
        return _Result([[0]] if sql.startswith("SELECT count()") else [])

    def insert(self, *args: Any, **kwargs: Any) -> None:
        pass


def _objects(statements: list[str]) -> dict[str, tuple[str, str | None, str, str]]:
    """name -> (kind, ON CLUSTER clause, engine, statement) of every CREATE."""
    out: dict[str, tuple[str, str | None, str, str]] = {}
    for statement in statements:
        match = _CREATE.match(statement)
        if match:
            engine = _ENGINE.search(statement)
            name = match.group(2).removeprefix(f"{DB}.")
            out[name] = (match.group(1), match.group(3), engine.group(1) if engine else "", statement)
    return out


def _recorded(cluster: str | None) -> list[str]:
    client = RecordingClient()
    applied = migrate(client, DB, cluster)
    assert applied == [m.version for m in discover()]
    return client.commands


def test_every_single_node_table_has_its_cluster_counterpart() -> None:
    single, cluster = _objects(_recorded(None)), _objects(_recorded(CLUSTER))
    tables = {
        n for n, (kind, _, engine, _) in single.items() if kind == "TABLE" and engine.endswith("MergeTree")
    }
    views = {n for n, (kind, _, _, _) in single.items() if kind == "VIEW"}
    assert {
        "events",
        "scores",
        "drift",
        "anomalies",
        "alerts",
        "rollup_minute",
        "erasures",
        "erased_subjects",
        "feedback",
        "schema_migrations",
    } <= tables
    assert {"events_dedup", "scores_dedup", "alerts_latest", "rollup_minute_v"} <= views
    sharded = tables - {"schema_migrations"}  # bookkeeping: replicated, never sharded

    assert set(cluster) == set(single) | {f"{t}_all" for t in sharded} | {f"{v}_all" for v in views}
    for name, (kind, on_cluster, engine, statement) in single.items():
        assert on_cluster is None and "Replicated" not in statement and "Distributed" not in statement, name
        c_kind, c_on, c_engine, _ = cluster[name]
        assert c_kind == kind and c_on == f"ON CLUSTER `{CLUSTER}`", name
        if engine:
            assert c_engine == f"Replicated{engine}", name
    for table in sharded:
        kind, on_cluster, engine, statement = cluster[f"{table}_all"]
        assert on_cluster == f"ON CLUSTER `{CLUSTER}`" and engine == "Distributed", table
        assert f" AS {DB}.{table} ENGINE = Distributed('{CLUSTER}', {DB}, {table}, " in statement
    for view in views:  # the _all view is the same query over the Distributed tables
        local, over_all = single[view][3], cluster[f"{view}_all"][3]
        body = local.split(" AS ", 1)[1]
        for table in sharded:
            body = re.sub(rf"\b{DB}\.{table}\b", f"{DB}.{table}_all", body)
        # a join over sharded tables reads its right side once (GLOBAL) instead of per shard
        assert over_all.split(" AS ", 1)[1].replace(" GLOBAL LEFT JOIN ", " LEFT JOIN ") == body, view
    # TTL changes and every other statement also target the whole cluster
    alters = [s for s in _recorded(CLUSTER) if s.startswith("ALTER")]
    assert alters and all(f"ON CLUSTER `{CLUSTER}`" in s for s in alters)


def test_cluster_statements_parse_in_clickhouse(store_client: Any) -> None:
    statements = _recorded(CLUSTER)
    assert len(statements) > 20
    for statement in statements:
        formatted = store_client.query(
            "SELECT formatQuerySingleLine({q:String})", parameters={"q": statement}
        ).result_rows[0][0]
        assert formatted, statement


def test_single_node_renders_no_cluster_objects_and_runs_on_chdb(
    store_client: Any, store_database: str
) -> None:
    """The store_database fixture ran migrate() on chdb with every file, 0004 included."""
    ctx = TemplateContext(store_database, None)
    (distributed,) = [m for m in discover() if m.name == "distributed"]
    assert split_statements(ctx.render(distributed.text)) == []
    versions = store_client.query(
        f"SELECT arraySort(groupArray(version)) FROM {store_database}.schema_migrations"
    ).result_rows[0][0]
    assert versions == [m.version for m in discover()]
    names = {
        r[0]
        for r in store_client.query(
            "SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": store_database}
        ).result_rows
    }
    assert {"events", "events_dedup", "rollup_minute_v"} <= names
    assert not {n for n in names if n.endswith("_all")}


def test_cluster_placeholders_are_checked() -> None:
    with pytest.raises(MigrationError, match="outside a cluster_only block"):
        TemplateContext(DB, None).render("SELECT {cluster}")
    assert (
        TemplateContext(DB, CLUSTER).render("{cluster_only}x {cluster}{end_cluster_only}") == f"x '{CLUSTER}'"
    )
    assert TemplateContext(DB, None).render("a{cluster_only}x {cluster}{end_cluster_only}b") == "ab"
    with pytest.raises(MigrationError, match="unknown placeholder"):
        TemplateContext(DB, CLUSTER).render("{cluster_only} never closed")
