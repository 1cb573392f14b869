"""The worker's fast decode path: event JSON -> an ``events`` row in one pass over the parsed
JSON, without building a pydantic :class:`~schemas.events.LLMCallEvent` per event.

:func:`decode_row` accepts only the common, fully regular shape of an event (every key a
known field, no extra keys, values of exactly the expected JSON types within the schema's
bounds, ``event_id`` and ``start_time`` present, timestamps in RFC 3339 with a zone). For
anything else it returns ``None`` and the caller decodes with pydantic, so lenient coercions,
defaults that generate values and precise error messages stay pydantic's. Whatever the fast
path accepts, pydantic accepts with the same values (``tests/worker/test_fastdecode.py``
checks rows built both ways are identical).

The row holds the values ``rows.event_row`` would give the pydantic model; the enrichment
adds the cost columns (and token estimates) afterwards.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import annotated_types
import orjson
import pydantic_core
from pydantic import BaseModel

from lightkeeper.schemas.events import (
    STORE_TIME_MAX,
    STORE_TIME_MIN,
    CaptureSource,
    ContextDocument,
    LLMCallEvent,
    Message,
    Output,
    RequestParams,
    ToolCall,
    Usage,
)


def _bounds(model: type[BaseModel], name: str) -> tuple[int, int]:
    """``(lower, upper)`` of a field, from its schema constraints (length for strings, value for
    numbers); ``0`` / ``1 << 62`` where the schema sets none."""
    lo, hi = 0, 1 << 62
    for c in model.model_fields[name].metadata:
        if isinstance(c, annotated_types.MinLen):
            lo = c.min_length
        elif isinstance(c, annotated_types.MaxLen):
            hi = c.max_length
        elif isinstance(c, annotated_types.Ge):
            lo = int(c.ge)  # type: ignore[call-overload]
        elif isinstance(c, annotated_types.Le):
            hi = int(c.le)  # type: ignore[call-overload]
    return lo, hi


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
        value = datetime.fromisoformat(v).astimezone(UTC)
    except (ValueError, OverflowError):
        raise _REJECT from None
    if not STORE_TIME_MIN <= value <= STORE_TIME_MAX:  # the schema's range rule: pydantic words it
        raise _REJECT
    return value


def _part(v: Any, keys: frozenset[str]) -> dict[str, Any]:
    if type(v) is not dict or not keys.issuperset(v):
        raise _REJECT
    return v


# The shape the fast path accepts is the schema's: its key sets and bounds come from the models.
_REQUEST_KEYS = frozenset(RequestParams.model_fields)
_USAGE_KEYS = frozenset(Usage.model_fields)
_CALL_KEYS = frozenset(ToolCall.model_fields)
_MESSAGE_KEYS = frozenset(Message.model_fields)
_OUTPUT_KEYS = frozenset(Output.model_fields)
_DOC_KEYS = frozenset(ContextDocument.model_fields)
_EVENT_KEYS = frozenset(LLMCallEvent.model_fields)

_TOKENS_MAX = _bounds(Usage, "input_tokens")[1]
_MAX_TOKENS_MAX = _bounds(RequestParams, "max_tokens")[1]
_CHOICES_MAX = _bounds(RequestParams, "choice_count")[1]
_TENANT_MAX = _bounds(LLMCallEvent, "tenant")[1]
_USER_ID_MAX = _bounds(LLMCallEvent, "user_id")[1]
_SESSION_ID_MAX = _bounds(LLMCallEvent, "session_id")[1]
_TRACE_ID_MAX = _bounds(LLMCallEvent, "trace_id")[1]
_SPAN_ID_MAX = _bounds(LLMCallEvent, "span_id")[1]
_ROUTE_MAX = _bounds(LLMCallEvent, "route")[1]
_REQ_MODEL_MAX = _bounds(LLMCallEvent, "request_model")[1]
_RESP_MODEL_MAX = _bounds(LLMCallEvent, "response_model")[1]
_RESPONSE_ID_MAX = _bounds(LLMCallEvent, "response_id")[1]
_ERROR_TYPE_MAX = _bounds(LLMCallEvent, "error_type")[1]
_PROMPT_ID_MAX = _bounds(LLMCallEvent, "prompt_id")[1]
_PROMPT_VERSION_MAX = _bounds(LLMCallEvent, "prompt_version")[1]
_RELEASE_MAX = _bounds(LLMCallEvent, "release")[1]
_EVENT_ID_MIN, _EVENT_ID_MAX = _bounds(LLMCallEvent, "event_id")
_APP_MIN, _APP_MAX = _bounds(LLMCallEvent, "app")
_ENVIRONMENT_MAX = _bounds(LLMCallEvent, "environment")[1]
_PROVIDER_MAX = _bounds(LLMCallEvent, "provider_name")[1]
_OPERATION_MAX = _bounds(LLMCallEvent, "operation_name")[1]
_STATUS_MIN, _STATUS_MAX = _bounds(LLMCallEvent, "http_status")
_VERSION_MIN = _bounds(LLMCallEvent, "schema_version")[0]
_DURATION_MIN = float(_bounds(LLMCallEvent, "duration_ms")[0])
_TTFT_MIN = float(_bounds(LLMCallEvent, "time_to_first_token_ms")[0])


_NO_REQUEST: dict[str, Any] = dict.fromkeys(_REQUEST_KEYS)
"""The request parameters of an event that sent none (shared: read, never modified)."""


def _request(v: Any) -> dict[str, Any]:
    r = _part(v, _REQUEST_KEYS)
    for x in r.values():
        if x is not None:
            break
    else:
        return _NO_REQUEST
    g = r.get
    stop = g("stop_sequences")
    return {
        "temperature": _float(g("temperature")),
        "max_tokens": _int(g("max_tokens"), 0, _MAX_TOKENS_MAX),
        "top_p": _float(g("top_p")),
        "top_k": _float(g("top_k")),
        "frequency_penalty": _float(g("frequency_penalty")),
        "presence_penalty": _float(g("presence_penalty")),
        "stop_sequences": None if stop is None else _strs(stop),
        "seed": _int(g("seed")),
        "choice_count": _int(g("choice_count"), 0, _CHOICES_MAX),
    }


def _usage(v: Any) -> dict[str, Any]:
    """All usage keys (``None`` for a token count not reported), each checked."""
    u = _part(v, _USAGE_KEYS)
    g = u.get
    counts = (
        g("input_tokens"),
        g("output_tokens"),
        g("cache_read_input_tokens"),
        g("cache_creation_input_tokens"),
        g("reasoning_output_tokens"),
    )
    for count in counts:
        if count is not None and (type(count) is not int or not 0 <= count <= _TOKENS_MAX):
            raise _REJECT
    estimated = g("estimated", False)
    if type(estimated) is not bool:
        raise _REJECT
    return {
        "input_tokens": counts[0],
        "output_tokens": counts[1],
        "cache_read_input_tokens": counts[2],
        "cache_creation_input_tokens": counts[3],
        "reasoning_output_tokens": counts[4],
        "estimated": estimated,
    }


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


FastRow = tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]
"""What :func:`decode_row` returns: ``(row, usage, input_messages, output_tool_calls)`` — the
``events`` row without its cost columns, the event's usage (all token keys, ``None`` where not
reported; token estimates are written into it and into the row), and the checked messages and
tool calls the token estimator reads."""

_FLAGS = (("streaming", False), ("truncated", False), ("redacted", False), ("body_sampled", True))
"""Boolean fields of the event and their defaults."""


def decode_row(data: bytes) -> FastRow | None:
    """The checked ``events`` row of ``data`` (see :data:`FastRow`) built in one pass over the
    parsed JSON, or None when pydantic must decide (also for invalid JSON: the pydantic path
    produces the precise error)."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or not _EVENT_KEYS.issuperset(obj):
        return None
    try:
        return _row(obj)
    except (_Reject, OverflowError) as exc:
        # _REJECT is one shared instance: drop what the raise attached to it, or every rejected
        # event's frames (and its parsed dict) would stay alive through the traceback chain.
        exc.__traceback__ = exc.__context__ = exc.__cause__ = None
        return None


def _row(o: dict[str, Any]) -> FastRow:
    """The row of a parsed event (raises ``_REJECT`` when it is not the common shape). Checks
    are inline rather than one call per field: this runs once per event."""
    g = o.get
    src = g("source", "ingest")
    source = _SOURCES.get(src) if type(src) is str else None
    if source is None or "event_id" not in o or "start_time" not in o:
        raise _REJECT
    tenant, user_id, session_id = g("tenant"), g("user_id"), g("session_id")
    trace_id, span_id, route = g("trace_id"), g("span_id"), g("route")
    request_model, response_model, response_id = g("request_model"), g("response_model"), g("response_id")
    error_type, error_message = g("error_type"), g("error_message")
    prompt_id, prompt_version, release = g("prompt_id"), g("prompt_version"), g("release")
    if not (
        (tenant is None or (type(tenant) is str and len(tenant) <= _TENANT_MAX))
        and (user_id is None or (type(user_id) is str and len(user_id) <= _USER_ID_MAX))
        and (session_id is None or (type(session_id) is str and len(session_id) <= _SESSION_ID_MAX))
        and (trace_id is None or (type(trace_id) is str and len(trace_id) <= _TRACE_ID_MAX))
        and (span_id is None or (type(span_id) is str and len(span_id) <= _SPAN_ID_MAX))
        and (route is None or (type(route) is str and len(route) <= _ROUTE_MAX))
        and (request_model is None or (type(request_model) is str and len(request_model) <= _REQ_MODEL_MAX))
        and (
            response_model is None or (type(response_model) is str and len(response_model) <= _RESP_MODEL_MAX)
        )
        and (response_id is None or (type(response_id) is str and len(response_id) <= _RESPONSE_ID_MAX))
        and (error_type is None or (type(error_type) is str and len(error_type) <= _ERROR_TYPE_MAX))
        and (error_message is None or type(error_message) is str)
        and (prompt_id is None or (type(prompt_id) is str and len(prompt_id) <= _PROMPT_ID_MAX))
        and (
            prompt_version is None
            or (type(prompt_version) is str and len(prompt_version) <= _PROMPT_VERSION_MAX)
        )
        and (release is None or (type(release) is str and len(release) <= _RELEASE_MAX))
    ):
        raise _REJECT
    for key, default in _FLAGS:
        if type(g(key, default)) is not bool:
            raise _REJECT
    start = _time(o["start_time"])
    end_raw = g("end_time")
    end = None if end_raw is None else _time(end_raw)
    duration = _float(g("duration_ms"), _DURATION_MIN)
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
    version = g("schema_version", 1)
    event_id = o["event_id"]
    app = g("app", "default")
    environment = g("environment", "dev")
    provider = g("provider_name", "unknown")
    operation = g("operation_name", "chat")
    status = g("http_status")
    if (
        (version is not None and (type(version) is not int or version < _VERSION_MIN))
        or type(event_id) is not str
        or not _EVENT_ID_MIN <= len(event_id) <= _EVENT_ID_MAX
        or type(app) is not str
        or not _APP_MIN <= len(app) <= _APP_MAX
        or type(environment) is not str
        or len(environment) > _ENVIRONMENT_MAX
        or type(provider) is not str
        or len(provider) > _PROVIDER_MAX
        or type(operation) is not str
        or len(operation) > _OPERATION_MAX
        or (status is not None and (type(status) is not int or not _STATUS_MIN <= status <= _STATUS_MAX))
    ):
        raise _REJECT
    req = _request(g("request", {}))
    usage = _usage(g("usage", {}))
    messages = _messages(g("input_messages", []))
    text = _ostr(output.get("text"))
    calls = _calls(output.get("tool_calls", []))
    docs = _documents(g("context_documents"))
    row: dict[str, Any] = {
        "event_id": event_id,
        "schema_version": version,
        "app": app,
        "environment": environment,
        "tenant": tenant or "",
        "user_id": user_id or "",
        "session_id": session_id or "",
        "trace_id": trace_id or "",
        "span_id": span_id or "",
        "route": route or "",
        "source": source.value,
        "provider_name": provider,
        "operation_name": operation,
        "request_model": request_model or "",
        "response_model": response_model or "",
        "model": response_model or request_model or "unknown",
        "prompt_id": prompt_id or "",
        "prompt_version": prompt_version or "",
        "release": release or "",
        "response_id": response_id or "",
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
        "finish_reasons": _strs(g("finish_reasons", [])),
        "start_time": start,
        "end_time": end,
        "duration_ms": duration,
        "time_to_first_token_ms": _float(g("time_to_first_token_ms"), _TTFT_MIN),
        "streaming": int(g("streaming", False)),
        "http_status": status,
        "error_type": error_type or "",
        "error_message": error_message or "",
        "is_error": int(error_type is not None or (status is not None and status >= 400)),
        "input_messages": orjson.dumps(messages).decode() if messages else "[]",
        "output_text": text or "",
        "output_tool_calls": orjson.dumps(calls).decode() if calls else "[]",
        "context_documents": None if docs is None else orjson.dumps(docs).decode(),
        "tags": tags,
        "metadata": pydantic_core.to_json(metadata, exclude_none=True).decode() if metadata else "{}",
        "extra": "",
        "truncated": int(g("truncated", False)),
        "redacted": int(g("redacted", False)),
        "redaction_types": _strs(g("redaction_types", [])),
        "body_sampled": int(g("body_sampled", True)),
    }
    return row, usage, messages, calls
