"""OpenAI wire format: chat completions, completions, responses, embeddings (and compatibles:
Azure OpenAI, vLLM, Ollama, LiteLLM...)."""

from __future__ import annotations

from typing import Any

import orjson

from lightkeeper.agent.proxy.common import Fields, as_float, as_int, as_str, stop_list, text_of
from lightkeeper.agent.proxy.sse import SSEEvent


def operation(path: str) -> str:
    """OpenTelemetry ``gen_ai.operation.name`` for an API path."""
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/completions"):
        return "text_completion"
    if path.endswith("/embeddings"):
        return "embeddings"
    if "/responses" in path:
        return "chat"
    return "unknown"


def parse_request(path: str, body: Any) -> Fields:
    """Event fields from a request body."""
    out: Fields = {"operation_name": operation(path)}
    if not isinstance(body, dict):
        return out
    out["request_model"] = as_str(body.get("model"))
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens", body.get("max_output_tokens")))
    out["request"] = {
        "temperature": as_float(body.get("temperature")),
        "max_tokens": as_int(max_tokens),
        "top_p": as_float(body.get("top_p")),
        "frequency_penalty": as_float(body.get("frequency_penalty")),
        "presence_penalty": as_float(body.get("presence_penalty")),
        "stop_sequences": stop_list(body.get("stop")),
        "seed": as_int(body.get("seed")),
        "choice_count": as_int(body.get("n")),
    }
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("messages"), list):
        for m in body["messages"]:
            if isinstance(m, dict):
                messages.append(_message(m))
    elif "/responses" in path:
        if isinstance(body.get("instructions"), str):
            messages.append({"role": "system", "content": body["instructions"]})
        inp = body.get("input")
        if isinstance(inp, str):
            messages.append({"role": "user", "content": inp})
        elif isinstance(inp, list):
            for item in inp:
                if isinstance(item, dict) and "role" in item:
                    messages.append({"role": str(item["role"]), "content": text_of(item.get("content"))})
    elif "prompt" in body:
        prompt = body["prompt"]
        text = prompt if isinstance(prompt, str) else text_of(prompt)
        messages.append({"role": "user", "content": text})
    elif "input" in body:
        inp = body["input"]
        if isinstance(inp, str):
            messages.append({"role": "user", "content": inp})
        elif isinstance(inp, list) and all(isinstance(x, str) for x in inp):
            messages.extend({"role": "user", "content": x} for x in inp)
    out["input_messages"] = messages
    if isinstance(body.get("user"), str):
        out["user_id"] = body["user"]
    return out


def _message(m: dict[str, Any]) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": str(m.get("role", "user")), "content": text_of(m.get("content"))}
    if isinstance(m.get("name"), str):
        msg["name"] = m["name"]
    if isinstance(m.get("tool_call_id"), str):
        msg["tool_call_id"] = m["tool_call_id"]
    calls = m.get("tool_calls")
    if isinstance(calls, list):
        msg["tool_calls"] = [_tool_call(c) for c in calls if isinstance(c, dict)]
    return msg


def _tool_call(c: dict[str, Any]) -> dict[str, Any]:
    fn: dict[str, Any] = c["function"] if isinstance(c.get("function"), dict) else {}
    return {
        "id": as_str(c.get("id")),
        "name": str(fn.get("name") or "unknown"),
        "arguments": as_str(fn.get("arguments")),
    }


def usage_fields(usage: Any) -> Fields | None:
    """Provider usage -> ``Usage`` fields (chat/completions/embeddings and responses shapes)."""
    if not isinstance(usage, dict):
        return None
    inp = as_int(usage.get("prompt_tokens", usage.get("input_tokens")))
    out = as_int(usage.get("completion_tokens", usage.get("output_tokens")))
    details_in = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    details_out = usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
    fields: Fields = {"input_tokens": inp, "output_tokens": out}
    if isinstance(details_in, dict):
        fields["cache_read_input_tokens"] = as_int(details_in.get("cached_tokens"))
    if isinstance(details_out, dict):
        fields["reasoning_output_tokens"] = as_int(details_out.get("reasoning_tokens"))
    return fields


def parse_response(path: str, body: Any) -> Fields:
    """Event fields from a complete (non-streaming) response body."""
    if not isinstance(body, dict):
        return {}
    if "/responses" in path or body.get("object") == "response":
        return _responses_result(body)
    out: Fields = {"response_id": as_str(body.get("id")), "response_model": as_str(body.get("model"))}
    usage = usage_fields(body.get("usage"))
    if usage is not None:
        out["usage"] = usage
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    finish: list[str] = []
    for choice in body.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        msg = choice.get("message")
        if isinstance(msg, dict):
            text = text_of(msg.get("content"))
            if text:
                texts.append(text)
            for c in msg.get("tool_calls") or []:
                if isinstance(c, dict):
                    calls.append(_tool_call(c))
        elif isinstance(choice.get("text"), str):
            texts.append(choice["text"])
        if isinstance(choice.get("finish_reason"), str):
            finish.append(choice["finish_reason"])
    if operation(path) != "embeddings":
        out["output"] = {"text": "\n".join(texts) if texts else None, "tool_calls": calls}
    out["finish_reasons"] = finish
    return out


def _responses_result(body: dict[str, Any]) -> Fields:
    out: Fields = {"response_id": as_str(body.get("id")), "response_model": as_str(body.get("model"))}
    usage = usage_fields(body.get("usage"))
    if usage is not None:
        out["usage"] = usage
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in body.get("output") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            text = text_of(item.get("content"))
            if text:
                texts.append(text)
        elif item.get("type") == "function_call":
            calls.append(
                {
                    "id": as_str(item.get("call_id")),
                    "name": str(item.get("name") or "unknown"),
                    "arguments": as_str(item.get("arguments")),
                }
            )
    out["output"] = {"text": "\n".join(texts) if texts else None, "tool_calls": calls}
    status = as_str(body.get("status"))
    out["finish_reasons"] = [status] if status else []
    return out


class OpenAIStream:
    """Assembles chat/completions chunks and responses-API events.

    Usage is taken from the LAST chunk that carries it (the final ``include_usage`` chunk, or
    vLLM's cumulative per-chunk usage); per-chunk usage is never summed.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._texts: dict[int, list[str]] = {}
        self._calls: dict[tuple[int, int], dict[str, Any]] = {}
        self._finish: dict[int, str] = {}
        self._usage: Fields | None = None
        self._id: str | None = None
        self._model: str | None = None
        self._final: Fields | None = None
        self._error: Fields | None = None

    def feed(self, event: SSEEvent) -> bool:
        data = event.data
        if not data or data == "[DONE]":
            return False
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(obj, dict):
            return False
        if isinstance(obj.get("type"), str) and obj["type"].startswith("response."):
            return self._responses_event(obj)
        if isinstance(obj.get("error"), dict):
            err = obj["error"]
            self._error = {
                "error_type": as_str(err.get("type")) or "stream_error",
                "error_message": as_str(err.get("message")),
            }
            return False
        self._id = self._id or as_str(obj.get("id"))
        self._model = as_str(obj.get("model")) or self._model
        usage = usage_fields(obj.get("usage"))
        if usage is not None:
            self._usage = usage
        content = False
        for choice in obj.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            idx = choice.get("index", 0) if isinstance(choice.get("index"), int) else 0
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else None
            piece = delta.get("content") if delta else choice.get("text")
            if isinstance(piece, str) and piece:
                self._texts.setdefault(idx, []).append(piece)
                content = True
            for tc in (delta or {}).get("tool_calls") or []:
                if isinstance(tc, dict):
                    content = True
                    self._tool_delta(idx, tc)
            if isinstance(choice.get("finish_reason"), str):
                self._finish[idx] = choice["finish_reason"]
        return content

    def _tool_delta(self, choice: int, tc: dict[str, Any]) -> None:
        key = (choice, tc.get("index", 0) if isinstance(tc.get("index"), int) else 0)
        call = self._calls.setdefault(key, {"id": None, "name": "", "arguments": ""})
        if isinstance(tc.get("id"), str):
            call["id"] = tc["id"]
        fn: dict[str, Any] = tc["function"] if isinstance(tc.get("function"), dict) else {}
        if isinstance(fn.get("name"), str):
            call["name"] += fn["name"]
        if isinstance(fn.get("arguments"), str):
            call["arguments"] += fn["arguments"]

    def _responses_event(self, obj: dict[str, Any]) -> bool:
        kind = obj["type"]
        if kind == "response.output_text.delta" and isinstance(obj.get("delta"), str):
            self._texts.setdefault(0, []).append(obj["delta"])
            return True
        if kind in ("response.completed", "response.incomplete", "response.failed") and isinstance(
            obj.get("response"), dict
        ):
            self._final = _responses_result(obj["response"])
            err = obj["response"].get("error")
            if isinstance(err, dict):
                self._error = {
                    "error_type": as_str(err.get("code")) or "response_failed",
                    "error_message": as_str(err.get("message")),
                }
        return kind == "response.function_call_arguments.delta"

    def result(self) -> Fields:
        if self._final is not None:
            out = dict(self._final)
            if not (out.get("output") or {}).get("text") and self._texts:
                out["output"] = {"text": "".join(self._texts[0]), "tool_calls": []}
        else:
            texts = ["".join(self._texts[i]) for i in sorted(self._texts)]
            calls = [
                {"id": c["id"], "name": c["name"] or "unknown", "arguments": c["arguments"] or None}
                for _, c in sorted(self._calls.items())
            ]
            out = {
                "response_id": self._id,
                "response_model": self._model,
                "output": {"text": "\n".join(texts) if texts else None, "tool_calls": calls},
                "finish_reasons": [self._finish[i] for i in sorted(self._finish)],
            }
            if self._usage is not None:
                out["usage"] = self._usage
        if self._error:
            out.update(self._error)
        return out
