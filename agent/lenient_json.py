"""JSON bodies with lone UTF-16 surrogate escapes (``"\\ud800"``).

Such a body is valid JSON (RFC 8259 allows any ``\\uXXXX`` escape) and Python's ``json.dumps``
writes one for every string holding a lone surrogate, but orjson refuses it and a lone
surrogate cannot be encoded as UTF-8 later anyway. :func:`loads` parses it anyway (the
standard library keeps the surrogates; numbers are read as orjson reads them: big integers as
floats, no NaN/Infinity), then :func:`replace_lone_surrogates` puts U+FFFD in their place and
names every string it changed, so the caller can record the repair on the item.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _int(text: str) -> int | float:
    value = int(text)
    return value if _INT_MIN <= value <= _INT_MAX else float(value)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(raw: bytes) -> tuple[Any, bool]:
    """The parsed body and whether it may hold lone surrogates (parsed by the fallback).
    Raises ``ValueError`` (``orjson.JSONDecodeError`` included) when it is not JSON."""
    try:
        return orjson.loads(raw), False
    except orjson.JSONDecodeError as exc:
        if "surrogate" not in str(exc):
            raise
    try:
        return json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant), True
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def replace_lone_surrogates(value: Any, path: str, changed: list[str]) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) replaced by U+FFFD; the
    path of each changed string is appended to ``changed``."""
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value) is None:
            return value
        changed.append(path or "<value>")
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [replace_lone_surrogates(item, f"{path}[{i}]", changed) for i, item in enumerate(value)]
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = replace_lone_surrogates(key, f"{path}.<key>" if path else "<key>", changed)
            out[name] = replace_lone_surrogates(item, f"{path}.{name}" if path else str(name), changed)
        return out
    return value
