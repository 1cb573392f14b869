"""Metadata the application attaches to a call through request headers.

=============================  ==============================================================
header                         meaning
=============================  ==============================================================
``X-Lightkeeper-App``          ``app`` (default: ``app_name`` setting)
``X-Lightkeeper-User``         ``user_id`` (else the request body's ``user`` / ``metadata.user_id``)
``X-Lightkeeper-Session``      ``session_id``
``X-Lightkeeper-Tenant``       ``tenant``
``X-Lightkeeper-Trace-Id``     ``trace_id`` (else the W3C ``traceparent`` header's trace id)
``X-Lightkeeper-Tags``         ``k=v,k2=v2`` into ``tags``
``X-Lightkeeper-Context``      RAG context: a JSON list of strings or ``{text,id,source,score}``
                               objects, or ``b64:`` + base64 of that JSON (for non-ASCII text)
=============================  ==============================================================

``X-Lightkeeper-*`` headers are removed before the request goes upstream. A context header that
cannot be read (not JSON, or longer than ``max_context_header_bytes``) is left out of the event
with ``metadata.context_header_error = "<problem>: <detail>"`` (problem ``context_header_invalid``
or ``context_header_too_large``); the call itself is never affected.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

PREFIX = "x-lightkeeper-"
MAX_TAGS = 64
#: Default cap on a captured ``X-Lightkeeper-Context`` header (``max_context_header_bytes``).
MAX_CONTEXT_HEADER_BYTES = 512 * 1024


def parse_tags(value: str) -> dict[str, str]:
    """``"k=v, k2=v2"`` -> dict; items without ``=`` are ignored; at most MAX_TAGS."""
    tags: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.partition("=")
        key = key.strip()
        if sep and key and len(tags) < MAX_TAGS:
            tags[key[:128]] = val.strip()[:1024]
    return tags


def parse_traceparent(value: str) -> tuple[str, str] | None:
    """``00-<32 hex trace>-<16 hex span>-<flags>`` -> (trace_id, span_id)."""
    parts = value.strip().split("-")
    if len(parts) >= 4 and len(parts[1]) == 32 and len(parts[2]) == 16:
        try:
            int(parts[1], 16)
            int(parts[2], 16)
        except ValueError:
            return None
        if parts[1] != "0" * 32:
            return parts[1], parts[2]
    return None


def parse_context(value: str) -> list[dict[str, Any]] | None:
    """Documents from an ``X-Lightkeeper-Context`` header; None when it cannot be read."""
    raw: bytes | str = value
    if value.startswith("b64:"):
        try:
            raw = base64.b64decode(value[4:], validate=True)
        except (binascii.Error, ValueError):
            return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return normalize_documents(data)


def normalize_documents(data: Any) -> list[dict[str, Any]] | None:
    """A list of strings / document objects -> ``ContextDocument`` dicts (None if not a list)."""
    if isinstance(data, dict) and isinstance(data.get("documents"), list):
        data = data["documents"]
    if not isinstance(data, list):
        return None
    docs: list[dict[str, Any]] = []
    for item in data:
        if isinstance(item, str):
            docs.append({"text": item})
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            doc: dict[str, Any] = {"text": item["text"]}
            for key in ("id", "source"):
                if item.get(key) is not None:
                    doc[key] = str(item[key])
            if isinstance(item.get("score"), int | float) and not isinstance(item.get("score"), bool):
                doc["score"] = float(item["score"])
            docs.append(doc)
    return docs


def context_problem(metadata: dict[str, Any]) -> str | None:
    """The problem label of an event's unreadable context header (None: none)."""
    error = metadata.get("context_header_error")
    return error.partition(":")[0] if isinstance(error, str) else None


def from_headers(
    headers: dict[str, str], default_app: str, max_context_bytes: int = MAX_CONTEXT_HEADER_BYTES
) -> dict[str, Any]:
    """Event fields from the captured metadata headers."""
    out: dict[str, Any] = {"app": headers.get(PREFIX + "app") or default_app}
    for header, name in (("user", "user_id"), ("session", "session_id"), ("tenant", "tenant")):
        if headers.get(PREFIX + header):
            out[name] = headers[PREFIX + header]
    trace = headers.get(PREFIX + "trace-id")
    tp = parse_traceparent(headers["traceparent"]) if "traceparent" in headers else None
    if trace:
        out["trace_id"] = trace
    elif tp:
        out["trace_id"], out["span_id"] = tp
    if headers.get(PREFIX + "tags"):
        out["tags"] = parse_tags(headers[PREFIX + "tags"])
    context = headers.get(PREFIX + "context")
    if context:
        if len(context) > max_context_bytes:
            out.setdefault("metadata", {})["context_header_error"] = (
                f"context_header_too_large: X-Lightkeeper-Context has {len(context)} characters, "
                f"more than max_context_header_bytes ({max_context_bytes}); post large contexts "
                "to /v1/context"
            )
            return out
        docs = parse_context(context)
        if docs is None:
            out.setdefault("metadata", {})["context_header_error"] = (
                "context_header_invalid: X-Lightkeeper-Context is not a JSON list (or b64: + base64 of one)"
            )
        else:
            out["context_documents"] = docs
    return out
