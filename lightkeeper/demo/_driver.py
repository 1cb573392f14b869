"""Send the planned calls through the agent (simulated provider behind it), with progress.

Scripted answers (toxic replies, ungrounded RAG answers) travel in the ``X-Fake-Answer``
header, which the simulated provider (``lightkeeper.demo.fake_provider``) answers with."""

from __future__ import annotations

import asyncio
import base64
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from lightkeeper.demo._scenario import Call


def _request(call: Call, base: str, run_id: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    headers = {
        "X-Lightkeeper-App": call.app,
        "X-Lightkeeper-User": call.user,
        "X-Lightkeeper-Tags": ",".join(f"{k}={v}" for k, v in {"demo_run": run_id, **call.tags}.items()),
        "X-Fake-Mode": call.mode,
        "X-Lightkeeper-Session": f"{run_id}-{call.session}",
    }
    if call.release:
        headers["X-Lightkeeper-Release"] = call.release
    if call.context:
        headers["X-Lightkeeper-Context"] = orjson.dumps(call.context).decode()
    if call.answer is not None:  # the simulated provider answers this text
        headers["X-Fake-Answer"] = "b64:" + base64.b64encode(call.answer.encode()).decode()
    messages = [{"role": "user", "content": call.prompt}]
    if call.api == "anthropic":
        headers.update({"x-api-key": "sk-ant-demo", "anthropic-version": "2023-06-01"})
        body: dict[str, Any] = {
            "model": call.model,
            "max_tokens": call.max_tokens,
            "messages": messages,
            "stream": call.stream,
        }
        return f"{base}/v1/messages", body, headers
    headers["Authorization"] = "Bearer sk-demo"
    body = {"model": call.model, "messages": messages, "max_tokens": call.max_tokens, "stream": call.stream}
    if call.stream:
        body["stream_options"] = {"include_usage": True}
    return f"{base}/v1/chat/completions", body, headers


async def send_all(
    calls: list[Call],
    agent_url: str,
    run_id: str,
    *,
    concurrency: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> dict[int, int]:
    """Send every call through the agent; returns HTTP status -> count."""
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[Call] = asyncio.Queue()
    for c in calls:
        queue.put_nowait(c)
    sent = 0
    timeout = aiohttp.ClientTimeout(total=60)

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal sent
        while True:
            try:
                call = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            url, body, headers = _request(call, agent_url, run_id)
            try:
                async with http.post(url, json=body, headers=headers) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                if call.feedback is not None:
                    await _send_feedback(http, call, agent_url, run_id)
            except (aiohttp.ClientError, TimeoutError):
                statuses[0] = statuses.get(0, 0) + 1
            sent += 1
            if progress is not None:
                progress(sent, len(calls))

    async with aiohttp.ClientSession(timeout=timeout) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return statuses


async def _send_feedback(http: aiohttp.ClientSession, call: Call, agent_url: str, run_id: str) -> None:
    """The user's rating of the answer, about the call's session (POST /v1/feedback)."""
    item: dict[str, Any] = {
        "session_id": f"{run_id}-{call.session}",
        "app": call.app,
        "user_id": call.user,
        "score": call.feedback,
    }
    if call.comment:
        item["comment"] = call.comment
    async with http.post(f"{agent_url}/v1/feedback", json=item) as resp:
        await resp.read()


class Progress:
    """One refreshing progress line on stderr (a line every few seconds when not a terminal)."""

    def __init__(self, enabled: bool, stored: Callable[[], int]) -> None:
        self.enabled = enabled
        self.stored = stored
        self.started = time.monotonic()
        self._last = 0.0
        self._tty = sys.stderr.isatty()

    def __call__(self, sent: int, total: int, *, force: bool = False, label: str = "calls") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < (0.25 if self._tty else 3.0):
            return
        self._last = now
        line = f"  {label} {sent}/{total} | stored {self.stored()} | {now - self.started:5.1f}s"
        if self._tty:
            sys.stderr.write("\r" + line.ljust(70))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self._tty:
            sys.stderr.write("\n")
            sys.stderr.flush()
