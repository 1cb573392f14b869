"""Formatting a query's result block by block, within a byte budget.

The engine already stops a result at the session's ``max_result_rows``/``max_result_bytes``
(``result_overflow_mode='break'``); here the formatted answer is built from a row-block stream
and cut at a row boundary once it would exceed ``max_bytes`` or ``max_rows``, so neither a
wide row nor a long result ever holds more than the budget (plus one engine block) in memory.
The output matches :mod:`lightkeeper.store.query`'s formatters for the rows kept."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

import orjson

from lightkeeper.errors import StoreError
from lightkeeper.store.query import QueryResult, _cell, _json_default, format_table


@dataclass
class Answer:
    """A formatted answer: the body, the rows in it, and whether rows were left out."""

    body: bytes
    rows: int
    truncated: bool


def stream_answer(
    client: Any,
    query: str,
    params: dict[str, Any],
    fmt: str,
    *,
    max_rows: int,
    max_bytes: int,
    max_width: int = 60,
    stream: bool = True,
) -> Answer:
    """Run ``query`` on ``client`` and format it as ``fmt`` (table, csv, json, parquet) within
    ``max_rows`` rows and ``max_bytes`` bytes. ``stream=False`` for statements the engine does not
    stream (DESCRIBE, SHOW, EXISTS, EXPLAIN: small answers). Raises :class:`StoreError` when the
    query fails."""
    if fmt == "parquet" and stream:
        return _parquet(client, query, params, max_rows, max_bytes)
    builder = _Builder(fmt, max_rows, max_bytes, max_width)
    if not stream:
        from lightkeeper.store.query import run_query

        result = run_query(client, query, params)
        builder.start(result.columns, result.types)
        builder.add(result.rows)
        if fmt == "parquet":
            return _parquet_of(result, builder.rows, builder.truncated)
        return builder.finish()
    try:
        with client.query_row_block_stream(query, parameters=params or None) as blocks:
            source = blocks.source
            builder.start(
                list(source.column_names), [getattr(t, "name", str(t)) for t in source.column_types]
            )
            for block in blocks:
                if not builder.add(block):
                    break
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"query failed: {exc}") from exc
    return builder.finish()


class _Builder:
    def __init__(self, fmt: str, max_rows: int, max_bytes: int, max_width: int) -> None:
        self.fmt, self.max_rows, self.max_bytes, self.max_width = fmt, max_rows, max_bytes, max_width
        self.columns: list[str] = []
        self.types: list[str] = []
        self.parts: list[bytes] = []  # csv/json: formatted rows; table: kept (clipped) rows
        self.kept: list[tuple[Any, ...]] = []
        self.size = 5 if fmt == "json" else 0  # "[\n" ... "\n]\n"
        self.rows = 0
        self.truncated = False

    def start(self, columns: list[str], types: list[str]) -> None:
        self.columns, self.types = columns, types
        if self.fmt == "csv":
            header = _csv_line(columns)
            self.parts.append(header)
            self.size += len(header)

    def add(self, block: list[tuple[Any, ...]]) -> bool:
        """Take rows of ``block`` while within the budget; False once the budget is reached."""
        if self.fmt == "json" and block and self.rows + len(block) <= self.max_rows:
            whole = self._json_block(block)  # one orjson call for the block when it all fits
            if self.size + len(whole) <= self.max_bytes:
                self.parts.append(whole)
                self.size += len(whole)
                self.rows += len(block)
                return True
        for row in block:
            if self.rows >= self.max_rows:
                self.truncated = True
                return False
            encoded, kept = self._encode(row)
            if self.size + len(encoded) > self.max_bytes:
                self.truncated = True
                return False
            self.size += len(encoded)
            self.rows += 1
            if self.fmt == "table":
                self.kept.append(kept)
            else:
                self.parts.append(encoded)
        return True

    def _json_block(self, block: list[tuple[Any, ...]]) -> bytes:
        """The rows of ``block`` as the per-row encoding would give them, joined ("  {...},\n")."""
        values = [
            {
                k: None if isinstance(v, float) and math.isnan(v) else v
                for k, v in zip(self.columns, row, strict=True)
            }
            for row in block
        ]
        text = orjson.dumps(values, default=_json_default, option=orjson.OPT_INDENT_2)
        return text[2:-2] + b",\n"  # "[\n  {...},\n  {...}\n]" without the brackets

    def _encode(self, row: tuple[Any, ...]) -> tuple[bytes, tuple[Any, ...]]:
        if self.fmt == "csv":
            return _csv_line(["" if v is None else _cell(v) for v in row]), ()
        if self.fmt == "json":
            values = {
                k: None if isinstance(v, float) and math.isnan(v) else v
                for k, v in zip(self.columns, row, strict=True)
            }
            text = orjson.dumps(values, default=_json_default, option=orjson.OPT_INDENT_2)
            return b"\n".join(b"  " + line for line in text.split(b"\n")) + b",\n", ()
        # table: keep the cells as shown (clipped), which bounds what a row holds
        cells = tuple(self._clip(_cell(v)) if v is not None else None for v in row)
        return "|".join(c or "NULL" for c in cells).encode() + b" " * (3 * len(cells)), cells

    def _clip(self, text: str) -> str:
        text = text.replace("\n", "\\n")
        return text if len(text) <= self.max_width else text[: self.max_width - 1] + "…"

    def finish(self) -> Answer:
        if self.fmt == "csv":
            body = b"".join(self.parts)
        elif self.fmt == "json":
            body = (b"[\n" + b"".join(self.parts)[:-2] + b"\n]\n") if self.parts else b"[]\n"
        else:
            body = self._table()
        return Answer(body, self.rows, self.truncated)

    def _table(self) -> bytes:
        """The aligned table; padding to the widest cell can outgrow the per-row estimate, so
        rows are dropped from the end until it fits."""
        while True:
            result = QueryResult(self.columns, self.types, self.kept)
            body = (format_table(result, max_width=self.max_width) + "\n").encode()
            if len(body) <= self.max_bytes or not self.kept:
                return body
            keep = min(len(self.kept) - 1, int(len(self.kept) * self.max_bytes / len(body) * 0.95))
            self.kept = self.kept[: max(keep, 0)]
            self.rows, self.truncated = len(self.kept), True


def _parquet_of(result: QueryResult, rows: int, truncated: bool) -> Answer:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {name: [row[i] for row in result.rows[:rows]] for i, name in enumerate(result.columns)}
    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    return Answer(buf.getvalue(), rows, truncated)


def _csv_line(values: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue().encode()


def _parquet(client: Any, query: str, params: dict[str, Any], max_rows: int, max_bytes: int) -> Answer:
    """Parquet has a footer, so the file is written at the end: from Arrow batches kept while
    their in-memory size stays within ``max_bytes`` (the file is smaller: compressed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    batches: list[Any] = []
    size = rows = 0
    truncated = False
    schema = None
    try:
        with client.query_arrow_stream(query, parameters=params or None) as stream:
            for item in stream:  # record batches (or tables, depending on the client version)
                schema = item.schema
                for batch in item.to_batches() if hasattr(item, "to_batches") else [item]:
                    take = batch.num_rows
                    if rows + take > max_rows:
                        take, truncated = max_rows - rows, True
                    per_row = batch.nbytes / max(batch.num_rows, 1)
                    if size + per_row * take > max_bytes:
                        take, truncated = max(int((max_bytes - size) // max(per_row, 1)), 0), True
                    if take:
                        batches.append(batch.slice(0, take))
                        size += int(per_row * take)
                        rows += take
                    if truncated:
                        break
                if truncated:
                    break
    except Exception as exc:
        raise StoreError(f"query failed: {exc}") from exc
    table = pa.Table.from_batches(batches, schema=schema) if schema is not None else pa.table({})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return Answer(buf.getvalue(), rows, truncated)
