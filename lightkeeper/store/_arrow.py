"""ClickHouse column types -> Arrow types, and row dicts -> an Arrow table for ``insert_arrow``."""

from __future__ import annotations

import re
from decimal import Decimal
from operator import itemgetter
from typing import Any

import pyarrow as pa

from lightkeeper.errors import SchemaError

_SIMPLE: dict[str, pa.DataType] = {
    "String": pa.string(),
    "UUID": pa.string(),
    "Bool": pa.bool_(),
    "UInt8": pa.uint8(),
    "UInt16": pa.uint16(),
    "UInt32": pa.uint32(),
    "UInt64": pa.uint64(),
    "Int8": pa.int8(),
    "Int16": pa.int16(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "Float32": pa.float32(),
    "Float64": pa.float64(),
    "Date": pa.date32(),
    "Date32": pa.date32(),
}
_WRAPPER = re.compile(r"^(Nullable|LowCardinality|Array|Map|Decimal|DateTime64|DateTime)\((.*)\)$")
_TZ = re.compile(r"'([^']*)'")


def _split_args(text: str) -> list[str]:
    """Split ``"A, Map(B, C)"`` at top-level commas."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return out


def arrow_type(ch_type: str) -> pa.DataType:
    """The Arrow type to send for a ClickHouse column type (raises SchemaError if unsupported)."""
    ch_type = ch_type.strip()
    if ch_type in _SIMPLE:
        return _SIMPLE[ch_type]
    if ch_type.startswith("FixedString("):
        return pa.string()
    if ch_type == "DateTime":
        return pa.timestamp("s", tz="UTC")
    match = _WRAPPER.match(ch_type)
    if not match:
        raise SchemaError(f"column type {ch_type} is not supported by the writer", [(ch_type, "unsupported")])
    kind, inner = match.groups()
    if kind in ("Nullable", "LowCardinality"):
        return arrow_type(inner)
    if kind == "Array":
        return pa.list_(arrow_type(inner))
    if kind == "Map":
        key, value = _split_args(inner)
        return pa.map_(arrow_type(key), arrow_type(value))
    if kind == "Decimal":
        precision, scale = (int(x) for x in _split_args(inner))
        return pa.decimal128(precision, scale)
    tz_match = _TZ.search(inner)
    tz = tz_match.group(1) if tz_match else "UTC"
    if kind == "DateTime":
        return pa.timestamp("s", tz=tz)
    precision = int(_split_args(inner)[0])
    unit = "s" if precision == 0 else "ms" if precision <= 3 else "us" if precision <= 6 else "ns"
    return pa.timestamp(unit, tz=tz)


def _column(name: str, values: list[Any], typ: pa.DataType) -> pa.Array:
    try:
        return pa.array(values, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as first:
        fixed = _coerce(values, typ)
        if fixed is not None:
            try:
                return pa.array(fixed, type=typ)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
                pass
        bad = _first_bad(values, typ)
        raise SchemaError(
            f"column {name}: cannot store {bad!r} as {typ}: {first}", [(name, f"bad value {bad!r}: {first}")]
        ) from None


def _coerce(values: list[Any], typ: pa.DataType) -> list[Any] | None:
    """Lenient second try: bools into integer columns, floats/strings into decimals."""
    if pa.types.is_integer(typ):
        return [int(v) if isinstance(v, bool) else v for v in values]
    if pa.types.is_decimal(typ):
        quantum = Decimal(1).scaleb(-typ.scale)
        return [None if v is None else Decimal(str(v)).quantize(quantum) for v in values]
    return None


def _first_bad(values: list[Any], typ: pa.DataType) -> Any:
    for value in values:
        try:
            pa.array([value], type=typ)
        except Exception:
            return value
    return None  # pragma: no cover - only reached if the whole column failed but no single value


def to_table(rows: list[dict[str, Any]], schema: dict[str, pa.DataType]) -> pa.Table:
    """Build an Arrow table from row dicts. Columns are the keys of the first row (later rows
    missing a key get NULL); a key that is not a column of the table is a SchemaError.

    Column by column (a C-level item lookup per row, then one conversion per column): cheaper
    than ``pa.Table.from_pylist`` on the worker's 60-column rows, and a column that does not
    convert gets the lenient second try or the precise SchemaError."""
    names = list(rows[0])
    unknown = [n for n in names if n not in schema]
    if unknown:
        raise SchemaError(
            f"row has column(s) the table lacks: {', '.join(unknown)}",
            [(n, "unknown column") for n in unknown],
        )
    arrays = []
    for name in names:
        try:  # every row has every column (the usual case): C-level item lookups
            values = list(map(itemgetter(name), rows))
        except KeyError:
            values = [row.get(name) for row in rows]
        arrays.append(_column(name, values, schema[name]))
    return pa.Table.from_arrays(arrays, names=names)
