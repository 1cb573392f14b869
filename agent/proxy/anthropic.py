"""Anthropic Messages API wire format (``/v1/messages``)."""

from __future__ import annotations

from typing import Any

import orjson

from lightkeeper.agent.proxy.common import Fields, as_float, as_int, as_str, stop_list, text_of
from lightkeeper.agent.proxy.sse import SSEEvent


def operation(path: str) -> str:
    return "chat" if path.rstrip("/").endswith("/messages") else "unknown"


def parse_request(path: str, body: Any) -> Fields:
    out: Fields = {"operation_name": operation(path)}
    if not isinstance(body, dict):
        return out
    out["request_model"] = as_str(body.get("model"))
    out["request"] = {
        "temperature": as_float(body.get("temperature")),
        "max_tokens": as_int(body.get("max_tokens")),
        "top_p": as_float(body.get("top_p")),
        "top_k": as_float(body.get("top_k")),
        "stop_sequences": stop_list(body.get("stop_sequences")),
    }
    messages: list[dict[str, Any]] = []
    system = text_of(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for m in body.get("messages") or []:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        msg: dict[str, Any] = {"role": str(m.get("role", "user")), "content": text_of(content)}
        if isinstance(content, list):
            calls = [_tool_use(b) for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
            if calls:
                msg["tool_calls"] = calls
            for b in content:
                if (
                    isinstance(b, dict)
                    and b.get("type") == "tool_result"
                    and isinstance(b.get("tool_use_id"), str)
                ):
                    msg["tool_call_id"] = b["tool_use_id"]
        messages.append(msg)
    out["input_messages"] = messages
    meta = body.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("user_id"), str):
        out["user_id"] = meta["user_id"]
    return out


def _tool_use(block: dict[str, Any]) -> dict[str, Any]:
    args = block.get("input")
    return {
        "id": as_str(block.get("id")),
        "name": str(block.get("name") or "unknown"),
        "arguments": orjson.dumps(args).decode() if args is not None else None,
    }


def usage_fields(usage: Any) -> Fields | None:
    if not isinstance(usage, dict):
        return None
    return {
        "input_tokens": as_int(usage.get("input_tokens")),
        "output_tokens": as_int(usage.get("output_tokens")),
        "cache_read_input_tokens": as_int(usage.get("cache_read_input_tokens")),
        "cache_creation_input_tokens": as_int(usage.get("cache_creation_input_tokens")),
    }


def parse_response(path: str, body: Any) -> Fields:
    if not isinstance(body, dict):
        return {}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in body.get("content") or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            calls.append(_tool_use(block))
    out: Fields = {
        "response_id": as_str(body.get("id")),
        "response_model": as_str(body.get("model")),
        "output": {"text": "".join(texts) if texts else None, "tool_calls": calls},
        "finish_reasons": [body["stop_reason"]] if isinstance(body.get("stop_reason"), str) else [],
    }
    usage = usage_fields(body.get("usage"))
    if usage is not None:
        out["usage"] = usage
    return out


class AnthropicStream:
    """Assembles ``message_start`` / ``content_block_*`` / ``message_delta`` events.

    Input and cache counts come from ``message_start``; output tokens from the final
    ``message_delta`` (cumulative there). Nothing is summed across events.
    """

    def __init__(self, path: str) -> None:
        self._blocks: dict[int, dict[str, Any]] = {}
        self._usage: Fields = {}
        self._id: str | None = None
        self._model: str | None = None
        self._stop: str | None = None
        self._error: Fields | None = None

    def feed(self, event: SSEEvent) -> bool:
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(obj, dict):
            return False
        kind = obj.get("type") or event.event
        if kind == "message_start" and isinstance(obj.get("message"), dict):
            msg = obj["message"]
            self._id = as_str(msg.get("id"))
            self._model = as_str(msg.get("model"))
            self._merge_usage(msg.get("usage"))
        elif kind == "content_block_start" and isinstance(obj.get("content_block"), dict):
            block = obj["content_block"]
            idx = obj.get("index", len(self._blocks))
            entry = {
                "type": block.get("type"),
                "text": "",
                "id": as_str(block.get("id")),
                "name": as_str(block.get("name")),
                "json": "",
            }
            if isinstance(block.get("text"), str):
                entry["text"] = block["text"]
            self._blocks[idx] = entry
            return bool(entry["text"]) or entry["type"] == "tool_use"
        elif kind == "content_block_delta" and isinstance(obj.get("delta"), dict):
            delta = obj["delta"]
            entry = self._blocks.setdefault(obj.get("index", 0), {"type": "text", "text": "", "json": ""})
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                entry["text"] += delta["text"]
                return bool(delta["text"])
            if delta.get("type") == "input_json_delta" and isinstance(delta.get("partial_json"), str):
                entry["json"] += delta["partial_json"]
                return True
        elif kind == "message_delta":
            md: dict[str, Any] = obj["delta"] if isinstance(obj.get("delta"), dict) else {}
            if isinstance(md.get("stop_reason"), str):
                self._stop = md["stop_reason"]
            self._merge_usage(obj.get("usage"))
        elif kind == "error" and isinstance(obj.get("error"), dict):
            self._error = {
                "error_type": as_str(obj["error"].get("type")) or "stream_error",
                "error_message": as_str(obj["error"].get("message")),
            }
        return False

    def _merge_usage(self, usage: Any) -> None:
        fields = usage_fields(usage)
        if fields:
            # later values replace earlier ones (message_delta carries final cumulative counts)
            self._usage.update({k: v for k, v in fields.items() if v is not None})

    def result(self) -> Fields:
        texts = [b["text"] for _, b in sorted(self._blocks.items()) if b.get("type") == "text" and b["text"]]
        calls = [
            {"id": b.get("id"), "name": b.get("name") or "unknown", "arguments": b.get("json") or None}
            for _, b in sorted(self._blocks.items())
            if b.get("type") == "tool_use"
        ]
        out: Fields = {
            "response_id": self._id,
            "response_model": self._model,
            "output": {"text": "".join(texts) if texts else None, "tool_calls": calls},
            "finish_reasons": [self._stop] if self._stop else [],
        }
        if self._usage:
            out["usage"] = dict(self._usage)
        if self._error:
            out.update(self._error)
        return out
