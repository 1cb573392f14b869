"""Turns a :class:`~agent.capture.Capture` into an :class:`~schemas.events.LLMCallEvent`.

Runs after the response went to the client, never on the request path. Order: parse the
request and response, take metadata headers, estimate usage where the provider gave none,
then scrub (secrets, PII), cap text sizes and apply body sampling.
"""

from __future__ import annotations

import random
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from lightkeeper.agent import metadata
from lightkeeper.agent.capture import Capture
from lightkeeper.agent.context import ContextCache
from lightkeeper.agent.proxy import anthropic, openai
from lightkeeper.agent.proxy.common import Fields, error_fields
from lightkeeper.agent.proxy.sse import SSEParser
from lightkeeper.agent.redaction import Redactor, pseudonymize
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.schemas.events import CaptureSource, LLMCallEvent
from lightkeeper.text.tokens import estimate_usage


def _decode_body(body: bytes, encoding: str) -> bytes:
    enc = encoding.lower().strip()
    if not enc or enc == "identity":
        return body
    if enc in ("gzip", "x-gzip"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if enc == "deflate":
        return zlib.decompress(body)
    if enc == "br":
        import brotli

        return bytes(brotli.decompress(body))
    raise ValueError(f"unsupported content-encoding {encoding!r}")


def _stream_fields(cap: Capture, module: Any) -> tuple[Fields, float | None]:
    assembler = (
        module.OpenAIStream(cap.api_path) if module is openai else module.AnthropicStream(cap.api_path)
    )
    parser = SSEParser()
    ttft_ns: int | None = None
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS) if cap.content_encoding in ("gzip", "x-gzip") else None
    for t, chunk in cap.all_chunks():
        data = decomp.decompress(chunk) if decomp else chunk
        for ev in parser.feed(data):
            if assembler.feed(ev) and ttft_ns is None:
                ttft_ns = t
    for ev in parser.close():
        assembler.feed(ev)
    ttft = (ttft_ns - cap.t_start) / 1e6 if ttft_ns is not None else None
    return assembler.result(), ttft


def _merge(target: dict[str, Any], fields: Fields) -> None:
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key] = {**target[key], **{k: v for k, v in value.items() if v is not None}}
        else:
            target[key] = value


def build_event(
    cap: Capture,
    settings: AgentSettings,
    contexts: ContextCache | None = None,
    rng: random.Random | None = None,
) -> LLMCallEvent:
    """Build the event of one proxied call. Raises only on bugs; the caller counts them."""
    module: Any = anthropic if cap.provider_kind == "anthropic" else openai
    data: dict[str, Any] = {
        "source": CaptureSource.PROXY,
        "environment": settings.environment,
        "provider_name": cap.provider_name,
        "route": cap.route,
        "streaming": cap.streaming,
        "http_status": cap.status,
        "start_time": datetime.fromtimestamp(cap.start_wall, UTC),
    }
    problems: list[str] = []
    request_body: Any = None
    if cap.request_body:
        try:
            request_body = orjson.loads(cap.request_body)
        except orjson.JSONDecodeError:
            problems.append("request body is not JSON")
    _merge(data, module.parse_request(cap.api_path, request_body))
    _merge(data, metadata.release_from_body(request_body))
    _merge(
        data, metadata.from_headers(cap.meta_headers, settings.app_name, settings.max_context_header_bytes)
    )

    ttft: float | None = None
    if cap.streaming:
        fields, ttft = _stream_fields(cap, module)
        _merge(data, fields)
        if cap.gap:
            data["truncated"] = True
    elif cap.response_body:
        try:
            body = orjson.loads(_decode_body(cap.response_body, cap.content_encoding))
        except (orjson.JSONDecodeError, ValueError, zlib.error) as exc:
            body = None
            problems.append(f"response body is not JSON: {exc}")
        if cap.status is not None and cap.status >= 400:
            _merge(data, error_fields(cap.status, body))
        else:
            _merge(data, module.parse_response(cap.api_path, body))
            if body is None and cap.error_type is None and cap.status is not None:
                data["error_type"] = "malformed_response"
    if cap.error_type:
        data["error_type"] = cap.error_type
        data["error_message"] = cap.error_message
    elif cap.status is not None and cap.status >= 400 and "error_type" not in data:
        data["error_type"] = str(cap.status)

    end_ns = cap.t_end or cap.t_start
    data["duration_ms"] = (end_ns - cap.t_start) / 1e6
    data["end_time"] = datetime.fromtimestamp(cap.start_wall + (end_ns - cap.t_start) / 1e9, UTC)
    if ttft is not None:
        data["time_to_first_token_ms"] = ttft
    # non-streaming calls: no time to first token (the whole answer arrives at once; duration_ms)
    if problems:
        data.setdefault("metadata", {})["capture_problems"] = problems

    _estimate_usage(data, cap)
    if contexts is not None and data.get("context_documents") is None and data.get("trace_id"):
        docs = contexts.get(data["trace_id"])
        if docs is not None:
            data["context_documents"] = docs
    _scrub(data, settings, cap)
    if (rng or random).random() >= settings.sample_rate(cap.route):
        data["input_messages"] = []
        data["output"] = {"text": None, "tool_calls": []}
        data["context_documents"] = None
        data["body_sampled"] = False
    return LLMCallEvent.model_validate(data)


def _estimate_usage(data: dict[str, Any], cap: Capture) -> None:
    usage = data.get("usage") or {}
    if usage.get("input_tokens") is not None or cap.status is None or cap.status >= 400:
        return
    output = data.get("output") or {}
    estimated_in, estimated_out = estimate_usage(
        [m.get("content") for m in data.get("input_messages") or []],
        output.get("text"),
        [(c.get("name"), c.get("arguments")) for c in output.get("tool_calls") or []],
    )
    output_tokens = usage.get("output_tokens")
    if output_tokens is None:
        output_tokens = estimated_out
    if estimated_in is None and output_tokens == usage.get("output_tokens"):
        return  # no captured text: nothing to estimate from
    data["usage"] = {**usage, "input_tokens": estimated_in, "output_tokens": output_tokens, "estimated": True}


def _cap(text: str | None, limit: int, flags: dict[str, bool]) -> str | None:
    if text is not None and len(text) > limit:
        flags["truncated"] = True
        return text[:limit]
    return text


def retention_problem(
    event: LLMCallEvent, settings: AgentSettings, now: datetime | None = None
) -> str | None:
    """Why the store would not keep ``event`` (its ``start_time`` is already older than
    ``store.events_ttl_days``: the row would be deleted on arrival), or None."""
    days = settings.store.events_ttl_days
    if days <= 0:
        return None
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    if event.start_time > cutoff:
        return None
    return (
        f"start_time {event.start_time.isoformat()} is older than the store keeps events "
        f"(store.events_ttl_days={days}): it would be deleted on arrival"
    )


def scrub_event(event: LLMCallEvent, settings: AgentSettings) -> LLMCallEvent:
    """Secrets/PII scrub and size cap for an event that arrived already built (OTLP, ingest)."""
    data = event.model_dump()
    scrub(data, settings)
    return LLMCallEvent.model_validate(data)


def _scrub(data: dict[str, Any], settings: AgentSettings, cap: Capture) -> None:
    scrub(data, settings, cap.secrets)


def scrub(data: dict[str, Any], settings: AgentSettings, secrets: list[str] | None = None) -> None:
    """Scrub secrets and PII from every text field of event ``data`` in place; cap text sizes."""
    red = Redactor(pii=settings.pii_redaction, pii_types=settings.pii_types, secrets=secrets or ())
    limit = settings.max_body_bytes
    flags: dict[str, bool] = {}
    for msg in data.get("input_messages") or []:
        msg["content"] = red(_cap(msg.get("content"), limit, flags))
        for call in msg.get("tool_calls") or []:
            call["arguments"] = red(_cap(call.get("arguments"), limit, flags))
    output = data.get("output")
    if isinstance(output, dict):
        output["text"] = red(_cap(output.get("text"), limit, flags))
        for call in output.get("tool_calls") or []:
            call["arguments"] = red(_cap(call.get("arguments"), limit, flags))
    for doc in data.get("context_documents") or []:
        doc["text"] = red(_cap(doc.get("text"), limit, flags)) or ""
    if data.get("error_message"):
        data["error_message"] = red(_cap(data["error_message"], limit, flags))
    if data.get("tags"):
        data["tags"] = {k: red(v) or "" for k, v in data["tags"].items()}
    if data.get("user_id"):
        probe = Redactor(pii=settings.pii_redaction, pii_types=settings.pii_types, secrets=secrets or ())
        key = settings.pii_hash_key.get_secret_value().encode() if settings.pii_hash_key else b""
        data["user_id"] = pseudonymize(str(data["user_id"]), red, probe, key)
    if flags.get("truncated"):
        data["truncated"] = True
    if red.types:
        data["redacted"] = True
        data["redaction_types"] = sorted(red.types | set(data.get("redaction_types") or ()))
