"""A fake LLM provider speaking the OpenAI and Anthropic wire formats (incl. SSE streaming).

Used by the agent's tests, the benchmarks and the demo ("simulated provider"). Answers are
deterministic per prompt, carry realistic token usage, and latency is configurable.

Endpoints: ``/v1/chat/completions``, ``/v1/completions``, ``/v1/responses``, ``/v1/embeddings``
(OpenAI) and ``/v1/messages`` (Anthropic). Failure modes are chosen per request with the
``X-Fake-Mode`` header (or for every request with ``FakeLLMConfig.mode``):

==================  =============================================================
mode                behaviour
==================  =============================================================
``ok``              normal answer (default)
``error:<status>``  provider-shaped error body with that status (429 adds Retry-After)
``slow:<seconds>``  wait that long before answering
``hang``            never answer (for client/agent timeouts)
``malformed``       200 with a body that is not JSON
``disconnect``      stream a few chunks then drop the connection
``no_usage``        omit usage (non-stream and stream)
``cumulative``      (stream) usage on every chunk, cumulative like vLLM's continuous stats
==================  =============================================================

``X-Fake-Answer: <text>`` (or ``b64:<base64 UTF-8>``) forces the answer of one request (the
demo uses it to produce toxic, hallucinated or PII-laden outputs on purpose).

Run standalone: ``python -m lightkeeper.demo.fake_provider --port 9100 --latency-ms 50``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

_ANSWERS = [
    "The capital of France is Paris. It has been the country's political and cultural centre for centuries.",
    "To reset your password, open Settings, choose Security, then select Reset password and follow "
    "the email link.",
    "Photosynthesis converts light energy into chemical energy, producing glucose and oxygen from "
    "CO2 and water.",
    "I can't help with that request, but I'm happy to help with something else.",
    "Here is a short summary: the report shows revenue grew 12% year over year, driven by subscriptions.",
    "The function returns the sum of the list; for an empty list it returns zero.",
]


def count_tokens(text: str) -> int:
    """Token count the fake provider reports (words and punctuation, like a BPE would roughly)."""
    from lightkeeper.text.tokens import estimate_tokens

    return estimate_tokens(text)


@dataclass
class FakeLLMConfig:
    """Behaviour of the fake provider."""

    latency_ms: float = 0.0
    """Delay before the response headers (non-streaming: before the whole answer)."""
    jitter_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    """Delay between stream chunks (0: ``token_latency_ms`` per chunk)."""
    token_latency_ms: float = 0.0
    """Generation time per output token: non-streaming answers wait tokens x this extra."""
    """Delay between stream chunks."""
    words_per_chunk: int = 1
    mode: str = "ok"
    answer: str | None = None
    """Fixed answer text (default: chosen deterministically from the prompt)."""
    record_requests: bool = True


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeLLM:
    """The fake provider app; ``received`` keeps the requests it got (when recording)."""

    config: FakeLLMConfig = field(default_factory=FakeLLMConfig)
    received: list[ReceivedRequest] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/v1/completions", self._openai)
        app.router.add_post("/v1/responses", self._openai)
        app.router.add_post("/v1/embeddings", self._openai)
        app.router.add_post("/v1/messages", self._anthropic)
        app.router.add_get("/healthz", self._health)
        return app

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    # -- shared ----------------------------------------------------------------------------------
    async def _prelude(self, request: web.Request) -> tuple[str, Any, bytes]:
        raw = await request.read()
        if self.config.record_requests:
            self.received.append(ReceivedRequest(request.path, dict(request.headers), raw))
        mode = request.headers.get("X-Fake-Mode", self.config.mode)
        delay = self.config.latency_ms + (
            random.random() * self.config.jitter_ms if self.config.jitter_ms else 0
        )
        if mode.startswith("slow:"):
            delay += float(mode.split(":", 1)[1]) * 1000
        if mode == "hang":
            delay += 3600_000
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            body = None
        return mode, body, raw

    def _answer(self, prompt: str, request: web.Request) -> str:
        forced = request.headers.get("X-Fake-Answer")
        if forced is not None:
            return base64.b64decode(forced[4:]).decode() if forced.startswith("b64:") else forced
        if self.config.answer is not None:
            return self.config.answer
        digest = hashlib.sha256(prompt.encode()).digest()
        return _ANSWERS[digest[0] % len(_ANSWERS)]

    @staticmethod
    def _prompt_of(body: dict[str, Any]) -> str:
        parts: list[str] = []
        for m in body.get("messages") or []:
            c = m.get("content") if isinstance(m, dict) else None
            if isinstance(c, str):
                parts.append(c)
            elif isinstance(c, list):
                parts.extend(p.get("text", "") for p in c if isinstance(p, dict))
        for key in ("prompt", "input", "system", "instructions"):
            v = body.get(key)
            if isinstance(v, str):
                parts.append(v)
            elif isinstance(v, list):
                parts.extend(
                    x if isinstance(x, str) else str(x.get("content", ""))
                    for x in v
                    if isinstance(x, str | dict)
                )
        return "\n".join(parts)

    def _chunks(self, text: str) -> list[str]:
        words = text.split(" ")
        n = max(1, self.config.words_per_chunk)
        return [
            " ".join(words[i : i + n]) + (" " if i + n < len(words) else "") for i in range(0, len(words), n)
        ]

    @property
    def _chunk_delay(self) -> float:
        return self.config.chunk_delay_ms or self.config.token_latency_ms * max(
            1, self.config.words_per_chunk
        )

    async def _generation_time(self, out_tokens: int) -> None:
        if self.config.token_latency_ms:
            await asyncio.sleep(out_tokens * self.config.token_latency_ms / 1000)

    @staticmethod
    def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            status=status, body=orjson.dumps(obj), content_type="application/json", headers=headers
        )

    # -- OpenAI ----------------------------------------------------------------------------------
    async def _openai(self, request: web.Request) -> web.StreamResponse:
        mode, body, _ = await self._prelude(request)
        if mode.startswith("error:"):
            status = int(mode.split(":", 1)[1])
            # (type, code) as OpenAI sends them: a rate limit is type "requests" (or "tokens"),
            # code "rate_limit_exceeded"; server errors carry no code
            etype, code = {
                429: ("requests", "rate_limit_exceeded"),
                401: ("invalid_request_error", "invalid_api_key"),
                400: ("invalid_request_error", None),
            }.get(status, ("server_error", None))
            headers = {"Retry-After": "1"} if status == 429 else None
            error = {"message": f"fake {code or etype}", "type": etype, "param": None, "code": code}
            return self._json(status, {"error": error}, headers)
        if mode == "malformed":
            return web.Response(
                status=200, body=b'{"id": "chatcmpl-broken", "choices": [', content_type="application/json"
            )
        if not isinstance(body, dict):
            return self._json(
                400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}}
            )
        model = str(body.get("model") or "gpt-4o-mini")
        prompt = self._prompt_of(body)
        in_tokens = count_tokens(prompt) + 7
        path = request.path
        if path.endswith("/embeddings"):
            inputs = body.get("input")
            items = inputs if isinstance(inputs, list) else [inputs]
            data = [
                {"object": "embedding", "index": i, "embedding": [0.01 * (i + 1)] * 8}
                for i in range(len(items))
            ]
            return self._json(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": model,
                    "usage": {"prompt_tokens": in_tokens, "total_tokens": in_tokens},
                },
            )
        answer = self._answer(prompt, request)
        out_tokens = count_tokens(answer)
        usage = {
            "prompt_tokens": in_tokens,
            "completion_tokens": out_tokens,
            "total_tokens": in_tokens + out_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
        rid = "chatcmpl-" + hashlib.sha1(f"{time.time_ns()}{prompt}".encode()).hexdigest()[:24]  # noqa: S324
        created = int(time.time())
        if path.endswith("/responses"):
            return await self._responses(request, body, mode, model, answer, in_tokens, out_tokens)
        if body.get("stream"):
            return await self._openai_stream(request, body, mode, rid, created, model, answer, usage)
        if path.endswith("/chat/completions"):
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": answer, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
            obj = "chat.completion"
        else:
            choice = {"index": 0, "text": answer, "logprobs": None, "finish_reason": "stop"}
            obj = "text_completion"
        resp: dict[str, Any] = {
            "id": rid,
            "object": obj,
            "created": created,
            "model": model,
            "choices": [choice],
            "system_fingerprint": "fp_fake",
        }
        if mode != "no_usage":
            resp["usage"] = usage
        await self._generation_time(out_tokens)
        return self._json(200, resp)

    async def _openai_stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        mode: str,
        rid: str,
        created: int,
        model: str,
        answer: str,
        usage: dict[str, Any],
    ) -> web.StreamResponse:
        chat = request.path.endswith("/chat/completions")
        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and mode != "no_usage"
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        obj = "chat.completion.chunk" if chat else "text_completion"
        chunks = self._chunks(answer)
        so_far = 0
        for i, piece in enumerate(["", *chunks]):
            if chat:
                delta: dict[str, Any] = {"role": "assistant", "content": ""} if i == 0 else {"content": piece}
                choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
            else:
                if i == 0:
                    continue
                choice = {"index": 0, "text": piece, "logprobs": None, "finish_reason": None}
            chunk: dict[str, Any] = {
                "id": rid,
                "object": obj,
                "created": created,
                "model": model,
                "choices": [choice],
            }
            if mode == "cumulative":
                so_far += count_tokens(piece)
                chunk["usage"] = {
                    "prompt_tokens": usage["prompt_tokens"],
                    "completion_tokens": so_far,
                    "total_tokens": usage["prompt_tokens"] + so_far,
                }
            elif include_usage:
                chunk["usage"] = None
            await resp.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
            if mode == "disconnect" and i >= 2:
                assert request.transport is not None
                request.transport.close()
                return resp
            if self._chunk_delay and i < len(chunks):
                await asyncio.sleep(self._chunk_delay / 1000)
        final_choice: dict[str, Any] = (
            {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
            if chat
            else {"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}
        )
        final: dict[str, Any] = {
            "id": rid,
            "object": obj,
            "created": created,
            "model": model,
            "choices": [final_choice],
        }
        if mode == "cumulative":
            final["usage"] = {
                "prompt_tokens": usage["prompt_tokens"],
                "completion_tokens": so_far,
                "total_tokens": usage["prompt_tokens"] + so_far,
            }
        await resp.write(b"data: " + orjson.dumps(final) + b"\n\n")
        if include_usage:
            tail = {
                "id": rid,
                "object": obj,
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            await resp.write(b"data: " + orjson.dumps(tail) + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def _responses(
        self,
        request: web.Request,
        body: dict[str, Any],
        mode: str,
        model: str,
        answer: str,
        in_tokens: int,
        out_tokens: int,
    ) -> web.StreamResponse:
        rid = "resp_" + hashlib.sha1(str(time.time_ns()).encode()).hexdigest()[:24]  # noqa: S324
        full: dict[str, Any] = {
            "id": rid,
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": model,
            "output": [
                {
                    "type": "message",
                    "id": "msg_" + rid[5:],
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": answer, "annotations": []}],
                }
            ],
            "usage": None
            if mode == "no_usage"
            else {
                "input_tokens": in_tokens,
                "output_tokens": out_tokens,
                "total_tokens": in_tokens + out_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }
        if not body.get("stream"):
            await self._generation_time(out_tokens)
            return self._json(200, full)
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        created = {**full, "status": "in_progress", "output": [], "usage": None}
        await resp.write(_sse("response.created", {"type": "response.created", "response": created}))
        for piece in self._chunks(answer):
            await resp.write(
                _sse(
                    "response.output_text.delta",
                    {"type": "response.output_text.delta", "output_index": 0, "delta": piece},
                )
            )
            if self._chunk_delay:
                await asyncio.sleep(self._chunk_delay / 1000)
        await resp.write(_sse("response.completed", {"type": "response.completed", "response": full}))
        await resp.write_eof()
        return resp

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        from lightkeeper.demo._fake_provider_anthropic import anthropic_messages

        return await anthropic_messages(self, request)


def _sse(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def start_fake_llm(
    config: FakeLLMConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> tuple[FakeLLM, web.AppRunner, str]:
    """Start a fake provider in the running loop; returns it, its runner and its base URL."""
    fake = FakeLLM(config or FakeLLMConfig())
    runner = web.AppRunner(fake.app(), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert server is not None
    bound = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    return fake, runner, f"http://{host}:{bound}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Fake OpenAI/Anthropic provider for tests, benchmarks and demos"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0)
    parser.add_argument("--words-per-chunk", type=int, default=1)
    parser.add_argument(
        "--token-latency-ms", type=float, default=0.0, help="generation time per output token"
    )
    parser.add_argument("--mode", default="ok")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    cfg = FakeLLMConfig(
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        chunk_delay_ms=args.chunk_delay_ms,
        token_latency_ms=args.token_latency_ms,
        words_per_chunk=args.words_per_chunk,
        mode=args.mode,
        record_requests=False,
    )
    web.run_app(FakeLLM(cfg).app(), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
