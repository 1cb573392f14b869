"""Loopback HTTP servers for notification tests, and the Slack one.

:class:`LoopbackServer` is an aiohttp server on 127.0.0.1 (random port) that records every
request and answers from a script: each request pops the next :class:`Action` for its path
(status, ``Retry-After``, delay), else succeeds. A request counts as *accepted* only if the
server answered 2xx to a client still connected — what a real service would have acted on.

:class:`SlackLoopback` speaks the Slack Web API (``POST /api/chat.postMessage`` with a bearer
token) and Slack incoming webhooks (``POST /services/<path>``).

Use ``await server.start()`` / ``await server.stop()`` inside a test's event loop, or
``with server.threaded():`` to run it on its own loop in a thread (for code that calls
``asyncio.run`` itself, like the CLI).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(slots=True)
class Action:
    """How to answer one request: wait ``delay`` seconds, then ``status`` (+ ``Retry-After``)."""

    status: int = 200
    retry_after: float | None = None
    delay: float = 0.0
    body: Any = None


@dataclass(slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    at: float
    status: int = 0
    accepted: bool = False


@dataclass
class LoopbackServer:
    """Base loopback server; subclasses add routes with :meth:`_handle`."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    _scripts: dict[str, deque[Action]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    # -- scripting --------------------------------------------------------------------------
    def script(self, path: str, *actions: Action) -> None:
        """Answer the next requests to ``path`` with ``actions`` (in order), then succeed."""
        self._scripts.setdefault(path, deque()).extend(actions)

    def _next_action(self, path: str) -> Action:
        queue = self._scripts.get(path)
        return queue.popleft() if queue else Action()

    def accepted(self, path: str | None = None) -> list[Received]:
        return [r for r in self.requests if r.accepted and (path is None or r.path == path)]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- serving ----------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application()
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextmanager
    def threaded(self) -> Iterator[LoopbackServer]:
        """Run on a private event loop in a daemon thread for the ``with`` block."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        stop = asyncio.Event()

        async def main() -> None:
            await self.start()
            ready.set()
            await stop.wait()
            await self.stop()

        self._thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("loopback server did not start")
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(stop.set)
            self._thread.join(10)
            loop.close()

    async def _record(self, request: web.Request) -> tuple[Received, Action]:
        body = await request.read()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = dict(await request.post()) if body else None
        rec = Received(request.path, dict(request.headers), body, parsed, time.monotonic())
        self.requests.append(rec)
        action = self._next_action(request.path)
        if action.delay:
            await asyncio.sleep(action.delay)
        return rec, action

    @staticmethod
    def _still_connected(request: web.Request) -> bool:
        transport = request.transport
        return transport is not None and not transport.is_closing()

    def _respond(
        self,
        request: web.Request,
        rec: Received,
        status: int,
        payload: Any,
        retry_after: float | None = None,
        *,
        text: bool = False,
    ) -> web.Response:
        rec.status = status
        rec.accepted = 200 <= status < 300 and self._still_connected(request)
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
        if text:
            return web.Response(status=status, text=str(payload), headers=headers)
        return web.json_response(payload, status=status, headers=headers)


@dataclass
class SlackLoopback(LoopbackServer):
    """Slack Web API + incoming webhooks. ``token`` is the bot token it accepts."""

    token: str = "xoxb-loopback"  # noqa: S105 - test double
    channels: set[str] = field(default_factory=lambda: {"#alerts", "C0LOOPBACK"})

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``AsyncWebClient``."""
        return f"{self.url}/api/"

    def webhook_url(self, path: str = "T000/B000/XXXX") -> str:
        return f"{self.url}/services/{path}"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/chat.postMessage", self._post_message),
            web.post("/services/{path:.*}", self._hook),
        ]

    def messages(self) -> list[dict[str, Any]]:
        """Bodies of accepted messages (Web API and webhooks)."""
        return [r.json for r in self.accepted()]

    async def _post_message(self, request: web.Request) -> web.Response:
        rec, action = await self._record(request)
        if action.status == 429:
            return self._respond(
                request, rec, 429, {"ok": False, "error": "ratelimited"}, action.retry_after or 1
            )
        if action.status >= 500:
            return self._respond(
                request, rec, action.status, "upstream failure", action.retry_after, text=True
            )
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._respond(request, rec, 200, {"ok": False, "error": "invalid_auth"})
        body = rec.json if isinstance(rec.json, dict) else {}
        if body.get("channel") not in self.channels:
            return self._respond(request, rec, 200, {"ok": False, "error": "channel_not_found"})
        if not body.get("text") and not body.get("blocks"):
            return self._respond(request, rec, 200, {"ok": False, "error": "no_text"})
        ts = f"{time.time():.6f}"
        return self._respond(request, rec, 200, {"ok": True, "channel": body["channel"], "ts": ts})

    async def _hook(self, request: web.Request) -> web.Response:
        rec, action = await self._record(request)
        if action.status == 429:
            return self._respond(request, rec, 429, "rate_limited", action.retry_after or 1, text=True)
        if action.status != 200:
            return self._respond(request, rec, action.status, "error", action.retry_after, text=True)
        body = rec.json if isinstance(rec.json, dict) else {}
        if not body.get("text") and not body.get("blocks"):
            return self._respond(request, rec, 400, "no_text", text=True)
        return self._respond(request, rec, 200, "ok", text=True)
