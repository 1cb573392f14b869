"""The worker's fast decode path: event JSON -> a checked plain dict -> an ``events`` row,
without building a pydantic :class:`~schemas.events.LLMCallEvent` per event.

:func:`fast_decode` accepts only the common, fully regular shape of an event (every key a
known field, no extra keys, values of exactly the expected JSON types within the schema's
bounds, ``event_id`` and ``start_time`` present, timestamps in RFC 3339 with a zone). For
anything else it returns ``None`` and the caller decodes with pydantic, so lenient coercions,
defaults that generate values and precise error messages stay pydantic's. Whatever the fast
path accepts, pydantic accepts with the same values (``tests/worker/test_fastdecode.py``
checks rows built both ways are identical).

The checked dict ("fast event") holds python values as ``LLMCallEvent.model_dump()`` would,
except that nested parts keep only the keys that were sent (defaults are applied where read).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pydantic_core

from schemas.events import UINT32_MAX, CaptureSource

_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")
_SOURCES = {s.value: s for s in CaptureSource}


class _Reject(Exception):
    """Not the common shape: decode with pydantic instead."""


_REJECT = _Reject()


def _str(v: Any, max_len: int, min_len: int = 0) -> str:
    if type(v) is not str or not min_len <= len(v) <= max_len:
        raise _REJECT
    return v


def _ostr(v: Any, max_len: int = 1 << 62) -> str | None:
    if v is None:
        return None
    if type(v) is not str or len(v) > max_len:
        raise _REJECT
    return v


def _int(v: Any, lo: int | None = None, hi: int | None = None) -> int | None:
    if v is None:
        return None
    if type(v) is not int or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise _REJECT
    return v


def _float(v: Any, lo: float | None = None) -> float | None:
    if v is None:
        return None
    t = type(v)
    if t is not float and t is not int:
        raise _REJECT
    f = float(v)
    if lo is not None and f < lo:
        raise _REJECT
    return f


def _bool(v: Any) -> bool:
    if type(v) is not bool:
        raise _REJECT
    return v


def _strs(v: Any) -> list[str]:
    if type(v) is not list:
        raise _REJECT
    for x in v:
        if type(x) is not str:
            raise _REJECT
    return v


def _time(v: Any) -> datetime:
    if type(v) is not str or not _TS.fullmatch(v):
        raise _REJECT
    try:
        return datetime.fromisoformat(v).astimezone(UTC)
    except (ValueError, OverflowError):
        raise _REJECT from None


def _part(v: Any, keys: frozenset[str]) -> dict[str, Any]:
    if type(v) is not dict or not keys.issuperset(v):
        raise _REJECT
    return v


_REQUEST_KEYS = frozenset(
    [
        "temperature",
        "max_tokens",
        "top_p",
        "top_k",
        "frequency_penalty",
        "presence_penalty",
        "stop_sequences",
        "seed",
        "choice_count",
    ]
)
_USAGE_KEYS = frozenset(
    [
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "reasoning_output_tokens",
        "estimated",
    ]
)
_TOKEN_KEYS = tuple(sorted(_USAGE_KEYS - {"estimated"}))
_CALL_KEYS = frozenset(("id", "name", "arguments"))
_MESSAGE_KEYS = frozenset(("role", "content", "name", "tool_call_id", "tool_calls"))
_OUTPUT_KEYS = frozenset(("text", "tool_calls"))
_DOC_KEYS = frozenset(("text", "id", "source", "score"))
_EVENT_KEYS = frozenset(
    [
        "schema_version",
        "event_id",
        "app",
        "environment",
        "tenant",
        "user_id",
        "session_id",
        "trace_id",
        "span_id",
        "route",
        "source",
        "provider_name",
        "operation_name",
        "request_model",
        "response_model",
        "response_id",
        "request",
        "usage",
        "finish_reasons",
        "start_time",
        "end_time",
        "duration_ms",
        "time_to_first_token_ms",
        "streaming",
        "http_status",
        "error_type",
        "error_message",
        "input_messages",
        "output",
        "context_documents",
        "tags",
        "metadata",
        "truncated",
        "redacted",
        "redaction_types",
        "body_sampled",
    ]
)


def _request(v: Any) -> dict[str, Any]:
    r = _part(v, _REQUEST_KEYS)
    g = r.get
    stop = g("stop_sequences")
    return {
        "temperature": _float(g("temperature")),
        "max_tokens": _int(g("max_tokens"), 0, UINT32_MAX),
        "top_p": _float(g("top_p")),
        "top_k": _float(g("top_k")),
        "frequency_penalty": _float(g("frequency_penalty")),
        "presence_penalty": _float(g("presence_penalty")),
        "stop_sequences": None if stop is None else _strs(stop),
        "seed": _int(g("seed")),
        "choice_count": _int(g("choice_count"), 0, 65535),
    }


def _usage(v: Any) -> dict[str, Any]:
    u = _part(v, _USAGE_KEYS)
    out: dict[str, Any] = {k: _int(u.get(k), 0, UINT32_MAX) for k in _TOKEN_KEYS}
    out["estimated"] = _bool(u.get("estimated", False))
    return out


def _calls(v: Any) -> list[dict[str, Any]]:
    """Tool calls as JSON-ready dicts without None fields (the stored form)."""
    if type(v) is not list:
        raise _REJECT
    out = []
    for c in v:
        c = _part(c, _CALL_KEYS)
        d: dict[str, Any] = {}
        if c.get("id") is not None:
            d["id"] = _ostr(c["id"])
        d["name"] = _str(c.get("name"), 1 << 62)
        if c.get("arguments") is not None:
            d["arguments"] = _ostr(c["arguments"])
        out.append(d)
    return out


def _messages(v: Any) -> list[dict[str, Any]]:
    if type(v) is not list:
        raise _REJECT
    out = []
    for m in v:
        m = _part(m, _MESSAGE_KEYS)
        d: dict[str, Any] = {"role": _str(m.get("role"), 1 << 62)}
        for key in ("content", "name", "tool_call_id"):
            value = _ostr(m.get(key))
            if value is not None:
                d[key] = value
        d["tool_calls"] = _calls(m.get("tool_calls", []))
        out.append(d)
    return out


def _documents(v: Any) -> list[dict[str, Any]] | None:
    if v is None:
        return None
    if type(v) is not list:
        raise _REJECT
    out = []
    for doc in v:
        doc = _part(doc, _DOC_KEYS)
        d: dict[str, Any] = {"text": _str(doc.get("text"), 1 << 62)}
        for key in ("id", "source"):
            value = _ostr(doc.get(key))
            if value is not None:
                d[key] = value
        score = _float(doc.get("score"))
        if score is not None:
            d["score"] = score
        out.append(d)
    return out


def fast_decode(data: bytes) -> dict[str, Any] | None:
    """The checked fast event of ``data``, or None when pydantic must decide (also for
    invalid JSON: the pydantic path produces the precise error)."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or not _EVENT_KEYS.issuperset(obj):
        return None
    try:
        return _check(obj)
    except (_Reject, OverflowError) as exc:
        # _REJECT is one shared instance: drop what the raise attached to it, or every rejected
        # event's frames (and its parsed dict) would stay alive through the traceback chain.
        exc.__traceback__ = exc.__context__ = exc.__cause__ = None
        return None


def _check(o: dict[str, Any]) -> dict[str, Any]:
    g = o.get
    src = g("source", "ingest")
    source = _SOURCES.get(src) if type(src) is str else None
    if source is None or "event_id" not in o or "start_time" not in o:
        raise _REJECT
    start = _time(o["start_time"])
    end_raw = g("end_time")
    end = None if end_raw is None else _time(end_raw)
    duration = _float(g("duration_ms"), 0.0)
    if end is not None:
        if end < start:
            raise _REJECT
        if duration is None:
            duration = (end - start).total_seconds() * 1000.0
    output = _part(g("output", {}), _OUTPUT_KEYS)
    tags = g("tags", {})
    if type(tags) is not dict or any(type(x) is not str for x in tags.values()):
        raise _REJECT
    metadata = g("metadata", {})
    if type(metadata) is not dict:
        raise _REJECT
    return {
        "schema_version": _int(g("schema_version", 1), 1),
        "event_id": _str(o["event_id"], 128, 1),
        "app": _str(g("app", "default"), 256, 1),
        "environment": _str(g("environment", "dev"), 128),
        "tenant": _ostr(g("tenant"), 256),
        "user_id": _ostr(g("user_id"), 512),
        "session_id": _ostr(g("session_id"), 512),
        "trace_id": _ostr(g("trace_id"), 128),
        "span_id": _ostr(g("span_id"), 128),
        "route": _ostr(g("route"), 256),
        "source": source,
        "provider_name": _str(g("provider_name", "unknown"), 128),
        "operation_name": _str(g("operation_name", "chat"), 64),
        "request_model": _ostr(g("request_model"), 256),
        "response_model": _ostr(g("response_model"), 256),
        "response_id": _ostr(g("response_id"), 256),
        "request": _request(g("request", {})),
        "usage": _usage(g("usage", {})),
        "finish_reasons": _strs(g("finish_reasons", [])),
        "start_time": start,
        "end_time": end,
        "duration_ms": duration,
        "time_to_first_token_ms": _float(g("time_to_first_token_ms"), 0.0),
        "streaming": _bool(g("streaming", False)),
        "http_status": _int(g("http_status"), 0, 999),
        "error_type": _ostr(g("error_type"), 256),
        "error_message": _ostr(g("error_message")),
        "input_messages": _messages(g("input_messages", [])),
        "output_text": _ostr(output.get("text")),
        "output_tool_calls": _calls(output.get("tool_calls", [])),
        "context_documents": _documents(g("context_documents")),
        "tags": tags,
        "metadata": metadata,
        "truncated": _bool(g("truncated", False)),
        "redacted": _bool(g("redacted", False)),
        "redaction_types": _strs(g("redaction_types", [])),
        "body_sampled": _bool(g("body_sampled", True)),
    }


def is_error(d: dict[str, Any]) -> bool:
    """``LLMCallEvent.is_error`` of a fast event."""
    status = d["http_status"]
    return d["error_type"] is not None or (status is not None and status >= 400)


def fast_row(d: dict[str, Any], costs: dict[str, Any]) -> dict[str, Any]:
    """The ``events`` row of a fast event (same values as ``rows.event_row`` of the model);
    ``costs`` are the already-checked enrichment columns (``usd`` applied)."""
    req = d["request"]
    usage = d["usage"]
    messages = d["input_messages"]
    calls = d["output_tool_calls"]
    docs = d["context_documents"]
    metadata = d["metadata"]
    row: dict[str, Any] = {
        "event_id": d["event_id"],
        "schema_version": d["schema_version"],
        "app": d["app"],
        "environment": d["environment"],
        "tenant": d["tenant"] or "",
        "user_id": d["user_id"] or "",
        "session_id": d["session_id"] or "",
        "trace_id": d["trace_id"] or "",
        "span_id": d["span_id"] or "",
        "route": d["route"] or "",
        "source": d["source"].value,
        "provider_name": d["provider_name"],
        "operation_name": d["operation_name"],
        "request_model": d["request_model"] or "",
        "response_model": d["response_model"] or "",
        "model": d["response_model"] or d["request_model"] or "unknown",
        "response_id": d["response_id"] or "",
        "temperature": req["temperature"],
        "max_tokens": req["max_tokens"],
        "top_p": req["top_p"],
        "top_k": req["top_k"],
        "frequency_penalty": req["frequency_penalty"],
        "presence_penalty": req["presence_penalty"],
        "stop_sequences": req["stop_sequences"] or [],
        "seed": req["seed"],
        "choice_count": req["choice_count"],
        "input_tokens": usage["input_tokens"],
        "output_tokens": usage["output_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
        "reasoning_output_tokens": usage["reasoning_output_tokens"],
        "tokens_estimated": int(usage["estimated"]),
        "finish_reasons": d["finish_reasons"],
        "start_time": d["start_time"],
        "end_time": d["end_time"],
        "duration_ms": d["duration_ms"],
        "time_to_first_token_ms": d["time_to_first_token_ms"],
        "streaming": int(d["streaming"]),
        "http_status": d["http_status"],
        "error_type": d["error_type"] or "",
        "error_message": d["error_message"] or "",
        "is_error": int(is_error(d)),
        "input_messages": orjson.dumps(messages).decode() if messages else "[]",
        "output_text": d["output_text"] or "",
        "output_tool_calls": orjson.dumps(calls).decode() if calls else "[]",
        "context_documents": None if docs is None else orjson.dumps(docs).decode(),
        "tags": d["tags"],
        "metadata": pydantic_core.to_json(metadata, exclude_none=True).decode() if metadata else "{}",
        "extra": "",
        "truncated": int(d["truncated"]),
        "redacted": int(d["redacted"]),
        "redaction_types": d["redaction_types"],
        "body_sampled": int(d["body_sampled"]),
    }
    row.update(costs)
    return row
