"""Schema migrations: numbered ``NNNN_name.sql`` files under ``schemas/clickhouse``.

Rules:

* DDL lives only in migration files; a shipped file is never edited (a change is a new file).
  Applied versions are recorded with the SHA-256 of the file text in
  ``<database>.schema_migrations``; :func:`migrate` refuses to run when an applied file changed.
* Statements end with ``;`` at the end of a line. ``--`` comment lines are ignored.
* Templating fills identifiers and configuration ONLY, never user input (queries from users use
  server-side ``{name:Type}`` parameters): ``{database}``, ``{on_cluster}``, ``{replicated}``,
  ``{ttl_events:COLUMN}``, ``{ttl_derived:COLUMN}``, and for the cluster variant ``{cluster}``
  (the cluster name as a string literal) and blocks between ``{cluster_only}`` and
  ``{end_cluster_only}``, dropped entirely on a single node (e.g. the Distributed tables of
  ``0004_distributed.sql``). The checksum is over the template, so
  changing a TTL setting does not count as an edit: :func:`migrate` then alters the TTL of the
  tables that declared one (``MODIFY TTL`` / ``REMOVE TTL``), and does nothing when unchanged.
* Every statement is idempotent (``IF NOT EXISTS``), so a migration interrupted half-way is
  simply applied again by the next run; a version is recorded only after all its statements ran.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightkeeper.schemas as _schemas_pkg
from lightkeeper.errors import MigrationError
from lightkeeper.store._ttl import declared_ttls, reconcile_ttls
from lightkeeper.store.client import check_identifier

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(_schemas_pkg.__file__).resolve().parent / "clickhouse"
MIGRATION_TABLE = "schema_migrations"

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([A-Za-z_][A-Za-z0-9_]*))?\}")
_STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)
_CLUSTER_BLOCK = re.compile(r"\{cluster_only\}(.*?)\{end_cluster_only\}", re.DOTALL)


@dataclass(frozen=True)
class Migration:
    """One migration file: its version, name, template text and checksum."""

    version: int
    name: str
    path: Path
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class TemplateContext:
    """Values the templates may use (configuration, never user input)."""

    database: str = "lightkeeper"
    cluster: str | None = None
    events_ttl_days: int = 90
    derived_ttl_days: int = 365

    def render(self, text: str) -> str:
        check_identifier(self.database)
        if self.cluster is not None:
            check_identifier(self.cluster, "cluster")

        def sub(match: re.Match[str]) -> str:
            name, arg = match.group(1), match.group(2)
            if name == "database" and arg is None:
                return self.database
            if name == "cluster" and arg is None:
                if not self.cluster:
                    raise MigrationError("{cluster} used outside a cluster_only block on a single node")
                return f"'{self.cluster}'"
            if name == "on_cluster" and arg is None:
                return f"ON CLUSTER `{self.cluster}`" if self.cluster else ""
            if name == "replicated" and arg is None:
                return "Replicated" if self.cluster else ""
            if name in ("ttl_events", "ttl_derived") and arg is not None:
                days = self.events_ttl_days if name == "ttl_events" else self.derived_ttl_days
                return f"TTL toDateTime({arg}) + toIntervalDay({int(days)})" if days > 0 else ""
            raise MigrationError(f"unknown placeholder {match.group(0)!r} in a migration")

        text = _CLUSTER_BLOCK.sub(lambda m: m.group(1) if self.cluster else "", text)
        return _PLACEHOLDER.sub(sub, text)


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file in ``directory``, ordered by version; refuses duplicates and odd names."""
    if not directory.is_dir():
        raise MigrationError(f"migrations directory not found: {directory}")
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name!r} must be named NNNN_lowercase_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"two migrations share version {version}: {found[version].path.name}, {path.name}"
            )
        found[version] = Migration(version, match.group(2), path, path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def split_statements(sql: str) -> list[str]:
    """Split a rendered file into statements (``;`` at a line end), dropping comment lines."""
    lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith("--")]
    body = "\n".join(lines)
    return [s.strip() for s in _STATEMENT_END.split(body) if s.strip()]


def applied(client: Any, database: str) -> dict[int, tuple[str, str]]:
    """Applied versions -> (name, checksum); empty when nothing was ever applied."""
    check_identifier(database)
    exists = client.query(
        "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        parameters={"db": database, "t": MIGRATION_TABLE},
    ).result_rows[0][0]
    if not exists:
        return {}
    rows = client.query(
        f"SELECT version, argMax(name, applied_at), argMax(checksum, applied_at) "
        f"FROM {database}.{MIGRATION_TABLE} GROUP BY version"
    ).result_rows
    return {int(v): (str(n), str(c)) for v, n, c in rows}


def pending(client: Any, database: str = "lightkeeper", directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migrations not applied yet (after checking that applied files were not edited)."""
    migrations = discover(directory)
    done = applied(client, database)
    _check_unchanged(migrations, done)
    return [m for m in migrations if m.version not in done]


def _check_unchanged(migrations: list[Migration], done: dict[int, tuple[str, str]]) -> None:
    by_version = {m.version: m for m in migrations}
    for version, (name, checksum) in sorted(done.items()):
        current = by_version.get(version)
        if current is None:
            raise MigrationError(
                f"migration {version:04d}_{name} is recorded as applied but its file is missing from "
                f"{MIGRATIONS_DIR}; restore it (applied migrations are never removed)"
            )
        if current.checksum != checksum:
            raise MigrationError(
                f"migration {current.path.name} was edited after it was applied (checksum "
                f"{checksum[:12]} recorded, {current.checksum[:12]} now). Applied migrations are "
                f"never edited: restore the file and put the change in a new numbered migration"
            )


def migrate(
    client: Any,
    database: str = "lightkeeper",
    cluster: str | None = None,
    *,
    events_ttl_days: int = 90,
    derived_ttl_days: int = 365,
    tenant_retention_days: Mapping[str, int] | None = None,
    directory: Path = MIGRATIONS_DIR,
) -> list[int]:
    """Apply pending migrations in order; return the versions applied (empty: up to date).
    Also brings table TTLs in line with the given retention (and the per-tenant overrides
    ``tenant_retention_days``, tenant -> days, 0 keeps; see ``_ttl``). A client still on the
    ``default`` database afterwards uses ``database``.

    Raises :class:`MigrationError` when an applied file was edited or a statement fails (naming
    the file and the statement).
    """
    ctx = TemplateContext(database, cluster, events_ttl_days, derived_ttl_days)
    on_cluster = ctx.render("{on_cluster}")
    _run(client, f"CREATE DATABASE IF NOT EXISTS {database} {on_cluster}", "bootstrap")
    engine = ctx.render("{replicated}MergeTree")
    _run(
        client,
        f"CREATE TABLE IF NOT EXISTS {database}.{MIGRATION_TABLE} {on_cluster} "
        f"(version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        f"ENGINE = {engine} ORDER BY version",
        "bootstrap",
    )
    todo = pending(client, database, directory)
    done: list[int] = []
    for migration in todo:
        for statement in split_statements(ctx.render(migration.text)):
            _run(client, statement, migration.path.name)
        client.insert(
            MIGRATION_TABLE,
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
            database=database,
        )
        log.info("applied migration %s", migration.path.name)
        done.append(migration.version)
    declared = declared_ttls([s for m in discover(directory) for s in split_statements(m.text)])
    try:
        days = {"ttl_events": events_ttl_days, "ttl_derived": derived_ttl_days}
        changed = reconcile_ttls(client, database, declared, days, on_cluster, tenant_retention_days)
    except Exception as exc:
        raise MigrationError(f"updating table TTLs failed: {exc}") from exc
    for table, (old, new) in changed.items():
        log.info("TTL of %s.%s changed from %r to %r", database, table, old or "none", new or "none")
    if getattr(client, "database", None) in (None, "", "default"):
        client.database = database  # a client opened before the database existed now uses it
    return done


def _run(client: Any, statement: str, where: str) -> None:
    try:
        client.command(statement)
    except Exception as exc:
        first = " ".join(statement.split())[:120]
        raise MigrationError(f"{where}: statement failed: {first}...: {exc}") from exc
