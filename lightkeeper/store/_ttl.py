"""Keep table TTLs in line with configuration (``store.events_ttl_days`` / ``derived_ttl_days``).

Migrations create tables with the TTL configured at that time. When the setting changes later,
:func:`reconcile_ttls` issues ``ALTER TABLE ... MODIFY TTL`` (or ``REMOVE TTL`` for 0) on the tables
whose migration declared a ``{ttl_events:COL}`` / ``{ttl_derived:COL}`` placeholder. With the
settings unchanged it does nothing.
"""

from __future__ import annotations

import re
from typing import Any

_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS \{database\}\.(\w+)")
_TTL_PLACEHOLDER = re.compile(r"\{(ttl_events|ttl_derived):(\w+)\}")
_TTL_DAYS = re.compile(r"\bTTL toDateTime\((\w+)\) \+ toIntervalDay\((\d+)\)")


def declared_ttls(statements: list[str]) -> dict[str, tuple[str, str]]:
    """Table -> (``ttl_events`` | ``ttl_derived``, column) from migration template statements."""
    out: dict[str, tuple[str, str]] = {}
    for statement in statements:
        table = _CREATE.search(statement)
        ttl = _TTL_PLACEHOLDER.search(statement)
        if table and ttl:
            out[table.group(1)] = (ttl.group(1), ttl.group(2))
    return out


def current_ttl_days(client: Any, database: str, table: str) -> int:
    """The TTL in days the table has now (0: none)."""
    rows = client.query(
        "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        parameters={"db": database, "t": table},
    ).result_rows
    if not rows:
        return 0
    match = _TTL_DAYS.search(str(rows[0][0]))
    return int(match.group(2)) if match else 0


def reconcile_ttls(
    client: Any,
    database: str,
    declared: dict[str, tuple[str, str]],
    days: dict[str, int],
    on_cluster: str = "",
) -> dict[str, tuple[int, int]]:
    """Alter tables whose TTL differs from ``days[kind]``; returns table -> (old, new) days."""
    changed: dict[str, tuple[int, int]] = {}
    for table, (kind, column) in sorted(declared.items()):
        want = int(days[kind])
        have = current_ttl_days(client, database, table)
        if have == want:
            continue
        if want > 0:
            ttl = f"toDateTime({column}) + toIntervalDay({want})"
            client.command(f"ALTER TABLE {database}.{table} {on_cluster} MODIFY TTL {ttl}")
        else:
            client.command(f"ALTER TABLE {database}.{table} {on_cluster} REMOVE TTL")
        changed[table] = (have, want)
    return changed
