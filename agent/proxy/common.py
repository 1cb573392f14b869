"""Helpers shared by the provider parsers: fields are plain dicts of LLMCallEvent fields."""

from __future__ import annotations

from typing import Any, Protocol

from lightkeeper.agent.proxy.sse import SSEEvent

Fields = dict[str, Any]


class StreamAssembler(Protocol):
    """Rebuilds a whole response from a provider's SSE events."""

    def feed(self, event: SSEEvent) -> bool:
        """Consume one event; True when it carried output content (text or tool call)."""
        ...

    def result(self) -> Fields:
        """Event fields of the assembled response (output, usage, finish reasons, ids)."""
        ...


def text_of(content: Any) -> str | None:
    """Text of a message ``content``: a string, or the text parts of a list of parts."""
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
                elif isinstance(part.get("content"), str | list):
                    inner = text_of(part["content"])
                    if inner:
                        parts.append(inner)
        return "\n".join(parts) if parts else None
    if isinstance(content, dict):
        return text_of([content])
    return str(content)


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    return float(value) if isinstance(value, int | float) else None


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def stop_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return None


def error_fields(status: int, body: Any) -> Fields:
    """``error_type``/``error_message`` from an error body of either provider.

    ``error_type`` is the provider's error *code* when the body has a string one (OpenAI
    ``error.code``: ``rate_limit_exceeded``, ``insufficient_quota``, ``context_length_exceeded``;
    the OpenAI ``error.type`` of a rate limit is ``requests``/``tokens``, which says little),
    else its error *type* (Anthropic ``error.type``: ``overloaded_error``, ``rate_limit_error``;
    OpenAI's when ``code`` is null: ``server_error``), else the HTTP status."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        etype = as_str(err.get("code")) or as_str(err.get("type")) or str(status)
        return {"error_type": etype, "error_message": as_str(err.get("message"))}
    if isinstance(err, str):
        return {"error_type": str(status), "error_message": err}
    return {"error_type": str(status), "error_message": None}
