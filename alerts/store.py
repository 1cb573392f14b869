"""Alert history in ClickHouse: every state change and delivery outcome is one row of the
``alerts`` table (ReplacingMergeTree(updated_at) keyed by ``alert_id``; read ``alerts_latest``).

:class:`StoreHistory` is the :class:`~alerts.lifecycle.AlertHistory` the engine and the
dispatcher write to; :func:`list_alerts` backs ``lightkeeper alerts list``; :func:`evaluate_sql`
evaluates a rule from the store (the query shown in notifications).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lightkeeper.alerts.rules import Rule
from lightkeeper.alerts.sql import render_sql
from lightkeeper.errors import StoreError
from lightkeeper.schemas.records import AlertRecord
from lightkeeper.store.client import check_identifier


class StoreHistory:
    """Buffers alert records into a :class:`~lightkeeper.store.writer.BatchWriter`.

    Alert volume is small, so by default every ``write`` flushes (a record is visible to
    ``alerts list`` right away); pass ``flush_each=False`` to batch."""

    def __init__(self, client: Any, *, database: str = "lightkeeper", flush_each: bool = True) -> None:
        from lightkeeper.store.writer import BatchWriter

        self.writer = BatchWriter(client, "alerts", database=database, batch_rows=500, flush_interval_s=1.0)
        self.flush_each = flush_each

    def write(self, records: list[AlertRecord]) -> None:
        from lightkeeper.schemas.rows import alert_row

        self.writer.add([alert_row(r) for r in records])
        if self.flush_each:
            self.writer.flush()

    def __call__(self, records: list[AlertRecord]) -> None:
        self.write(records)

    def close(self) -> None:
        self.writer.close()


def list_alerts(
    client: Any,
    database: str = "lightkeeper",
    *,
    state: str | None = None,
    rule: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Latest version of each alert episode, newest first."""
    db = check_identifier(database)
    where: list[str] = []
    params: dict[str, Any] = {"limit": int(limit)}
    if state:
        where.append("state = {state:String}")
        params["state"] = state
    if rule:
        where.append("rule = {rule:String}")
        params["rule"] = rule
    sql = (
        "SELECT alert_id, rule, state, severity, labels, value, threshold, delivery_status, attempts, "
        f"route, started_at, resolved_at, updated_at FROM {db}.alerts_latest"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY updated_at DESC LIMIT {limit:UInt32}"
    )
    try:
        result = client.query(sql, parameters=params)
    except Exception as exc:
        raise StoreError(f"cannot list alerts: {exc}") from exc
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def evaluate_sql(
    client: Any, rule: Rule, start: datetime, end: datetime, database: str = "lightkeeper"
) -> list[dict[str, Any]]:
    """Every group's value of ``rule`` over ``[start, end)`` computed from the store."""
    sql = render_sql(rule, {}, start, end, database)
    try:
        result = client.query(sql)
    except Exception as exc:
        raise StoreError(f"cannot evaluate rule {rule.name} in the store: {exc}") from exc
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
