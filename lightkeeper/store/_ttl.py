"""Keep table TTLs in line with configuration (``store.events_ttl_days`` / ``derived_ttl_days``
and the per-tenant overrides ``store.tenant_retention_days``).

Migrations create tables with the TTL configured at that time. When the settings change later,
:func:`reconcile_ttls` issues ``ALTER TABLE ... MODIFY TTL`` (or ``REMOVE TTL``) on the tables
whose migration declared a ``{ttl_events:COL}`` / ``{ttl_derived:COL}`` placeholder. With the
settings unchanged it does nothing.

Per-tenant overrides apply to the tables that carry a ``tenant`` column (:data:`TENANT_TABLES`):
each overridden tenant gets its own TTL rule (``... DELETE WHERE tenant = 'x'``; 0 keeps the
tenant's rows), and the table's default rule then covers only the other tenants
(``WHERE tenant NOT IN (...)``), so an override may be shorter or longer than the default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS \{database\}\.(\w+)")
_TTL_PLACEHOLDER = re.compile(r"\{(ttl_events|ttl_derived):(\w+)\}")
_TTL_DAYS = re.compile(r"\bTTL toDateTime\((\w+)\) \+ toIntervalDay\((\d+)\)")
_TTL_TEXT = re.compile(r"\bTTL (.*?)(?: SETTINGS |$)", re.S)

#: Tables with a ``tenant`` column: per-tenant retention overrides apply to them.
TENANT_TABLES = frozenset({"events", "feedback"})


def declared_ttls(statements: list[str]) -> dict[str, tuple[str, str]]:
    """Table -> (``ttl_events`` | ``ttl_derived``, column) from migration template statements."""
    out: dict[str, tuple[str, str]] = {}
    for statement in statements:
        table = _CREATE.search(statement)
        ttl = _TTL_PLACEHOLDER.search(statement)
        if table and ttl:
            out[table.group(1)] = (ttl.group(1), ttl.group(2))
    return out


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ttl_rules(column: str, days: int, tenant_days: Mapping[str, int] | None = None) -> str:
    """The TTL clause body for ``days`` (0: keep) and per-tenant overrides; ``''`` for none."""
    expiry = "toDateTime({col}) + toIntervalDay({days})"
    overrides = dict(sorted((tenant_days or {}).items()))
    rules = []
    if days > 0:
        rule = expiry.format(col=column, days=int(days))
        if overrides:
            rule += f" DELETE WHERE tenant NOT IN ({', '.join(_literal(t) for t in overrides)})"
        rules.append(rule)
    for tenant, tenant_keep in overrides.items():
        if tenant_keep > 0:
            rules.append(
                f"{expiry.format(col=column, days=int(tenant_keep))} DELETE WHERE tenant = {_literal(tenant)}"
            )
    return ", ".join(rules)


def _normal(text: str) -> str:
    """TTL text without what ClickHouse may format differently (spaces, the DELETE keyword)."""
    return re.sub(r"\s+|\bDELETE\b", "", text)


def current_ttl(client: Any, database: str, table: str) -> str:
    """The table's TTL clause body as the server shows it (``''``: none)."""
    rows = client.query(
        "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        parameters={"db": database, "t": table},
    ).result_rows
    if not rows:
        return ""
    match = _TTL_TEXT.search(str(rows[0][0]))
    return match.group(1).strip() if match else ""


def current_ttl_days(client: Any, database: str, table: str) -> int:
    """The default TTL in days the table has now (0: none)."""
    match = _TTL_DAYS.search("TTL " + current_ttl(client, database, table))
    return int(match.group(2)) if match else 0


def reconcile_ttls(
    client: Any,
    database: str,
    declared: dict[str, tuple[str, str]],
    days: dict[str, int],
    on_cluster: str = "",
    tenant_days: Mapping[str, int] | None = None,
) -> dict[str, tuple[str, str]]:
    """Alter tables whose TTL differs from the configured one; returns table -> (old, new) TTL."""
    changed: dict[str, tuple[str, str]] = {}
    for table, (kind, column) in sorted(declared.items()):
        overrides = tenant_days if table in TENANT_TABLES else None
        want = ttl_rules(column, int(days[kind]), overrides)
        have = current_ttl(client, database, table)
        if _normal(have) == _normal(want):
            continue
        if want:
            client.command(f"ALTER TABLE {database}.{table} {on_cluster} MODIFY TTL {want}")
        else:
            client.command(f"ALTER TABLE {database}.{table} {on_cluster} REMOVE TTL")
        changed[table] = (have, want)
    return changed
