"""Read access: parameterized queries and result formatting.

Values that come from users (app names, labels, time ranges) are NEVER formatted into SQL text:
they travel as server-side parameters, written ``{name:Type}`` in the query and passed in
``parameters`` (clickhouse-connect sends them separately; the server parses them as ``Type``).
Identifiers (database, table) are checked with :func:`check_identifier` before use.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from lightkeeper.errors import StoreError, StoreUnavailable
from lightkeeper.store.client import check_identifier


@dataclass
class QueryResult:
    """Column names and types, and the rows as tuples."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def run_query(client: Any, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
    """Run a read query with server-side ``{name:Type}`` parameters.

    Raises :class:`StoreError` for a rejected query (with the engine's message) and
    :class:`StoreUnavailable` when the store cannot be reached."""
    try:
        result = client.query(sql, parameters=parameters or None)
    except Exception as exc:
        name = type(exc).__name__
        if name in ("OperationalError",):
            raise StoreUnavailable(f"store unavailable: {exc}") from exc
        raise StoreError(f"query failed: {exc}") from exc
    types = [getattr(t, "name", str(t)) for t in result.column_types]
    return QueryResult(list(result.column_names), types, list(result.result_rows))


def rollup(
    client: Any,
    database: str,
    *,
    since: datetime,
    until: datetime,
    app: str | None = None,
    model: str | None = None,
) -> list[dict[str, Any]]:
    """Per-minute rollup rows (``rollup_minute_v``) in ``[since, until)``, optionally for one
    app and/or model, ordered by minute."""
    check_identifier(database)
    sql = (
        f"SELECT * FROM {database}.rollup_minute_v "
        "WHERE minute >= {since:DateTime64(3, 'UTC')} AND minute < {until:DateTime64(3, 'UTC')} "
        "AND ({app:Nullable(String)} IS NULL OR app = {app:Nullable(String)}) "
        "AND ({model:Nullable(String)} IS NULL OR model = {model:Nullable(String)}) "
        "ORDER BY minute, app, model, provider_name"
    )
    params = {"since": since, "until": until, "app": app, "model": model}
    return run_query(client, sql, params).dicts()


def event_count(client: Any, database: str, *, app: str | None = None, since: datetime | None = None) -> int:
    """Distinct events (no double counting), optionally for one app and/or since a time."""
    check_identifier(database)
    sql = (
        f"SELECT count() FROM {database}.events_dedup "
        "WHERE ({app:Nullable(String)} IS NULL OR app = {app:Nullable(String)}) "
        "AND ({since:Nullable(DateTime64(3, 'UTC'))} IS NULL "
        "OR start_time >= {since:Nullable(DateTime64(3, 'UTC'))})"
    )
    return int(run_query(client, sql, {"app": app, "since": since}).rows[0][0])


# formatting --------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict | list | tuple):
        return orjson.dumps(value, default=str).decode()
    return str(value)


def format_table(result: QueryResult, max_width: int = 60) -> str:
    """An aligned plain-text table; cells longer than ``max_width`` are cut with an ellipsis."""

    def clip(text: str) -> str:
        text = text.replace("\n", "\\n")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    header = [clip(c) for c in result.columns]
    body = [[clip(_cell(v)) for v in row] for row in result.rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    numeric = [_is_numeric(t) for t in result.types]

    def line(cells: list[str]) -> str:
        return " | ".join(
            c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    out = [line(header), "-+-".join("-" * w for w in widths)]
    out.extend(line(r) for r in body)
    out.append(f"({len(body)} row{'s' if len(body) != 1 else ''})")
    return "\n".join(out)


def _is_numeric(ch_type: str) -> bool:
    base = ch_type.replace("Nullable(", "").replace("LowCardinality(", "")
    return base.startswith(("UInt", "Int", "Float", "Decimal"))


def format_csv(result: QueryResult) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
    return buf.getvalue()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)


def format_json(result: QueryResult) -> str:
    """A JSON array of objects (Decimals as strings, so no precision is lost)."""
    rows = result.dicts()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and math.isnan(value):
                row[key] = None
    return orjson.dumps(rows, default=_json_default, option=orjson.OPT_INDENT_2).decode()
