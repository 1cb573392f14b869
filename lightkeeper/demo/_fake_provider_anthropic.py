"""Anthropic Messages API half of :mod:`lightkeeper.demo.fake_provider`."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any, Protocol

import orjson
from aiohttp import web

from lightkeeper.text.tokens import estimate_tokens as count_tokens


class FakeProvider(Protocol):
    """What the Anthropic route uses of :class:`~lightkeeper.demo.fake_provider.FakeLLM`."""

    async def _prelude(self, request: web.Request) -> tuple[str, Any, bytes]: ...
    def _answer(self, prompt: str, request: web.Request) -> str: ...
    def _prompt_of(self, body: dict[str, Any]) -> str: ...
    def _chunks(self, text: str) -> list[str]: ...
    @property
    def _chunk_delay(self) -> float: ...
    async def _generation_time(self, out_tokens: int) -> None: ...
    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> web.Response: ...


def _sse(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def anthropic_messages(self: FakeProvider, request: web.Request) -> web.StreamResponse:
    """``POST /v1/messages`` of the fake provider (Anthropic Messages API, incl. SSE)."""
    mode, body, _ = await self._prelude(request)
    if mode.startswith("error:"):
        status = int(mode.split(":", 1)[1])
        kind = {
            429: "rate_limit_error",
            529: "overloaded_error",
            401: "authentication_error",
            400: "invalid_request_error",
        }.get(status, "api_error")
        return self._json(status, {"type": "error", "error": {"type": kind, "message": f"fake {kind}"}})
    if mode == "malformed":
        return web.Response(
            status=200, body=b'{"id": "msg_broken", "content": [', content_type="application/json"
        )
    if not isinstance(body, dict):
        return self._json(
            400,
            {"type": "error", "error": {"type": "invalid_request_error", "message": "body is not JSON"}},
        )
    model = str(body.get("model") or "claude-3-5-haiku-latest")
    prompt = self._prompt_of(body)
    answer = self._answer(prompt, request)
    in_tokens = count_tokens(prompt) + 5
    out_tokens = count_tokens(answer)
    mid = "msg_" + hashlib.sha1(f"{time.time_ns()}{prompt}".encode()).hexdigest()[:24]  # noqa: S324
    usage = {
        "input_tokens": in_tokens,
        "output_tokens": out_tokens,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
    }
    if not body.get("stream"):
        resp_body: dict[str, Any] = {
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": answer}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
        }
        if mode != "no_usage":
            resp_body["usage"] = usage
        await self._generation_time(out_tokens)
        return self._json(200, resp_body)
    resp = web.StreamResponse(
        status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await resp.prepare(request)
    start_usage = {**usage, "output_tokens": 1}
    msg: dict[str, Any] = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }
    if mode != "no_usage":
        msg["usage"] = start_usage
    await resp.write(_sse("message_start", {"type": "message_start", "message": msg}))
    await resp.write(
        _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
    )
    await resp.write(_sse("ping", {"type": "ping"}))
    for i, piece in enumerate(self._chunks(answer)):
        await resp.write(
            _sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
            )
        )
        if mode == "disconnect" and i >= 1:
            assert request.transport is not None
            request.transport.close()
            return resp
        if self._chunk_delay:
            await asyncio.sleep(self._chunk_delay / 1000)
    await resp.write(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    delta: dict[str, Any] = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
    }
    if mode != "no_usage":
        delta["usage"] = {"output_tokens": out_tokens}
    await resp.write(_sse("message_delta", delta))
    await resp.write(_sse("message_stop", {"type": "message_stop"}))
    await resp.write_eof()
    return resp
