"""OpenTelemetry GenAI span -> event fields (pure functions; no protobuf types here).

Understands the current semantic conventions (``gen_ai.provider.name``,
``gen_ai.input.messages``/``gen_ai.output.messages`` JSON, ``gen_ai.usage.input_tokens``),
the older ones and OpenLLMetry/OpenLIT (``gen_ai.system``, ``gen_ai.prompt.N.role|content``,
``gen_ai.completion.N.content``, ``gen_ai.usage.prompt_tokens``), span events
(``gen_ai.user.message``, ``gen_ai.system.message``, ``gen_ai.choice`` ...) and
OpenInference (``llm.model_name``, ``llm.input_messages.N.message.*``, ``llm.token_count.*``).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_INDEXED = re.compile(
    r"^(gen_ai\.prompt|gen_ai\.completion|llm\.input_messages|llm\.output_messages)\.(\d+)\.(.+)$"
)


def is_genai(attrs: dict[str, Any]) -> bool:
    return (
        any(k.startswith("gen_ai.") or k.startswith("llm.") for k in attrs)
        or attrs.get("openinference.span.kind") == "LLM"
    )


def _first(attrs: dict[str, Any], *names: str) -> Any:
    for name in names:
        if attrs.get(name) is not None:
            return attrs[name]
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value >= 0:
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return [value]
        value = parsed
    if isinstance(value, list):
        return [str(v) for v in value]
    return None


def _parts_text(parts: Any) -> str | None:
    if isinstance(parts, str):
        return parts
    if not isinstance(parts, list):
        return None
    texts = []
    for p in parts:
        if isinstance(p, dict):
            t = p.get("content", p.get("text"))
            if isinstance(t, str):
                texts.append(t)
        elif isinstance(p, str):
            texts.append(p)
    return "\n".join(texts) if texts else None


def _json_messages(value: Any) -> list[dict[str, Any]]:
    """``gen_ai.input.messages`` / ``gen_ai.output.messages``: JSON with ``parts`` (or ``content``)."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        return []
    out = []
    for m in value:
        if not isinstance(m, dict):
            continue
        content = _parts_text(m.get("parts")) if "parts" in m else _parts_text(m.get("content"))
        msg: dict[str, Any] = {"role": str(m.get("role", "user")), "content": content}
        calls = []
        for p in m.get("parts") or []:
            if isinstance(p, dict) and p.get("type") == "tool_call":
                args = p.get("arguments")
                calls.append(
                    {
                        "id": p.get("id"),
                        "name": str(p.get("name") or "unknown"),
                        "arguments": args
                        if isinstance(args, str) or args is None
                        else orjson.dumps(args).decode(),
                    }
                )
        if calls:
            msg["tool_calls"] = calls
        if isinstance(m.get("finish_reason"), str):
            msg["finish_reason"] = m["finish_reason"]
        out.append(msg)
    return out


def _indexed(attrs: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    groups: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in attrs.items():
        m = _INDEXED.match(key)
        if m:
            field = m.group(3).removeprefix("message.")
            groups.setdefault(m.group(1), {}).setdefault(int(m.group(2)), {})[field] = value
    return groups


def _from_events(events: list[tuple[str, dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[str]]:
    inputs: list[dict[str, Any]] = []
    outputs: list[str] = []
    for name, attrs in events:
        if name in (
            "gen_ai.system.message",
            "gen_ai.user.message",
            "gen_ai.assistant.message",
            "gen_ai.tool.message",
        ):
            role = name.split(".")[1]
            content = attrs.get("content")
            if content is None and isinstance(attrs.get("body"), dict):
                content = attrs["body"].get("content")
            inputs.append(
                {"role": role, "content": _parts_text(content) if not isinstance(content, str) else content}
            )
        elif name == "gen_ai.choice":
            msg = attrs.get("message")
            if isinstance(msg, str):
                try:
                    msg = orjson.loads(msg)
                except orjson.JSONDecodeError:
                    msg = {"content": msg}
            content = msg.get("content") if isinstance(msg, dict) else attrs.get("content")
            text = content if isinstance(content, str) else _parts_text(content)
            if text:
                outputs.append(text)
    return inputs, outputs


def span_fields(attrs: dict[str, Any], events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Event fields from a GenAI span's attributes and events."""
    out: dict[str, Any] = {
        "provider_name": str(
            _first(attrs, "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system") or "unknown"
        ),
        "operation_name": str(_first(attrs, "gen_ai.operation.name", "llm.request.type") or "chat"),
        "request_model": _first(attrs, "gen_ai.request.model", "llm.model_name"),
        "response_model": _first(attrs, "gen_ai.response.model"),
        "response_id": _first(attrs, "gen_ai.response.id"),
        "request": {
            "temperature": _float(attrs.get("gen_ai.request.temperature")),
            "max_tokens": _int(attrs.get("gen_ai.request.max_tokens")),
            "top_p": _float(attrs.get("gen_ai.request.top_p")),
            "top_k": _float(attrs.get("gen_ai.request.top_k")),
            "frequency_penalty": _float(attrs.get("gen_ai.request.frequency_penalty")),
            "presence_penalty": _float(attrs.get("gen_ai.request.presence_penalty")),
            "stop_sequences": _str_list(attrs.get("gen_ai.request.stop_sequences")),
            "seed": _int(attrs.get("gen_ai.request.seed")),
            "choice_count": _int(attrs.get("gen_ai.request.choice.count")),
        },
        "usage": {
            "input_tokens": _int(
                _first(
                    attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"
                )
            ),
            "output_tokens": _int(
                _first(
                    attrs,
                    "gen_ai.usage.output_tokens",
                    "gen_ai.usage.completion_tokens",
                    "llm.token_count.completion",
                )
            ),
            "cache_read_input_tokens": _int(
                _first(attrs, "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
            ),
            "cache_creation_input_tokens": _int(
                _first(
                    attrs,
                    "gen_ai.usage.cache_creation.input_tokens",
                    "gen_ai.usage.cache_creation_input_tokens",
                )
            ),
            "reasoning_output_tokens": _int(attrs.get("gen_ai.usage.reasoning.output_tokens")),
        },
        "finish_reasons": _str_list(attrs.get("gen_ai.response.finish_reasons")) or [],
    }
    out.update(_streaming(attrs))
    user = _first(attrs, "user.id", "enduser.id", "gen_ai.user.id")
    if user is not None:
        out["user_id"] = str(user)
    session = _first(attrs, "session.id", "gen_ai.conversation.id")
    if session is not None:
        out["session_id"] = str(session)
    inputs: list[dict[str, Any]] = []
    output_text: str | None = None
    tool_calls: list[dict[str, Any]] = []
    if "gen_ai.input.messages" in attrs or "gen_ai.output.messages" in attrs:
        inputs = _json_messages(attrs.get("gen_ai.input.messages"))
        outs = _json_messages(attrs.get("gen_ai.output.messages"))
        output_text = "\n".join(m["content"] for m in outs if m.get("content")) or None
        tool_calls = [c for m in outs for c in m.get("tool_calls", [])]
        if not out["finish_reasons"]:
            out["finish_reasons"] = [m["finish_reason"] for m in outs if m.get("finish_reason")]
    else:
        groups = _indexed(attrs)
        prompt = groups.get("gen_ai.prompt") or groups.get("llm.input_messages") or {}
        completion = groups.get("gen_ai.completion") or groups.get("llm.output_messages") or {}
        inputs = [
            {"role": str(p.get("role", "user")), "content": _maybe_str(p.get("content"))}
            for _, p in sorted(prompt.items())
        ]
        texts = [_maybe_str(c.get("content")) for _, c in sorted(completion.items())]
        output_text = "\n".join(t for t in texts if t) or None
        if not out["finish_reasons"]:
            out["finish_reasons"] = [
                str(c["finish_reason"]) for _, c in sorted(completion.items()) if c.get("finish_reason")
            ]
        if not inputs and isinstance(attrs.get("input.value"), str):
            inputs = [{"role": "user", "content": attrs["input.value"]}]
        if output_text is None and isinstance(attrs.get("output.value"), str):
            output_text = attrs["output.value"]
    if not inputs and output_text is None and events:
        inputs, outs_text = _from_events(events)
        output_text = "\n".join(outs_text) or None
    out["input_messages"] = inputs
    out["output"] = {"text": output_text, "tool_calls": tool_calls}
    return out


def _streaming(attrs: dict[str, Any]) -> dict[str, Any]:
    """``streaming`` (and the time to the first chunk) from ``gen_ai.request.stream``,
    ``gen_ai.response.time_to_first_chunk`` (seconds), OpenLLMetry's ``llm.is_streaming`` or
    OpenInference's ``llm.invocation_parameters`` (``{"stream": true}``)."""
    out: dict[str, Any] = {}
    flag = _first(attrs, "gen_ai.request.stream", "llm.is_streaming")
    if flag is None and isinstance(attrs.get("llm.invocation_parameters"), str):
        try:
            params = orjson.loads(attrs["llm.invocation_parameters"])
        except orjson.JSONDecodeError:
            params = None
        flag = params.get("stream") if isinstance(params, dict) else None
    first_chunk = _float(attrs.get("gen_ai.response.time_to_first_chunk"))
    if first_chunk is not None and first_chunk >= 0:
        out["time_to_first_token_ms"] = first_chunk * 1000.0
        flag = True if flag is None else flag
    if flag is True or (isinstance(flag, str) and flag.lower() == "true"):
        out["streaming"] = True
    return out


#: Log record / event names that carry a GenAI call's content (GenAI semantic conventions).
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
MESSAGE_EVENTS = frozenset(
    {"gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message"}
)


def is_genai_log(name: str) -> bool:
    return name == DETAILS_EVENT or name in MESSAGE_EVENTS or name == "gen_ai.choice"


def log_fields(records: list[tuple[str, dict[str, Any], Any]]) -> dict[str, Any]:
    """Content fields of a call from its GenAI log records ``(event name, attributes, body)``:
    the ``gen_ai.client.inference.operation.details`` event (``gen_ai.input.messages`` /
    ``gen_ai.output.messages`` attributes) or the per-message events (``gen_ai.user.message``...,
    ``gen_ai.choice``, content in the body). Only fields found are returned."""
    out: dict[str, Any] = {}
    events: list[tuple[str, dict[str, Any]]] = []
    for name, attrs, body in records:
        if name == DETAILS_EVENT:
            details = span_fields(attrs, [])
            if details["input_messages"]:
                out["input_messages"] = details["input_messages"]
            if details["output"]["text"] is not None or details["output"]["tool_calls"]:
                out["output"] = details["output"]
            if details["finish_reasons"]:
                out["finish_reasons"] = details["finish_reasons"]
            out.update(_streaming(attrs))
        else:
            flat = {**attrs, **body} if isinstance(body, dict) else {**attrs, "content": body}
            events.append((name, flat))
    if events and "input_messages" not in out and "output" not in out:
        inputs, outputs = _from_events(events)
        if inputs:
            out["input_messages"] = inputs
        if outputs:
            out["output"] = {"text": "\n".join(outputs), "tool_calls": []}
        reasons = [
            str(a["finish_reason"]) for n, a in events if n == "gen_ai.choice" and a.get("finish_reason")
        ]
        if reasons:
            out["finish_reasons"] = reasons
    return out


def _maybe_str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
