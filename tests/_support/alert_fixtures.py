"""Pytest fixtures for alerting: loopback Slack / PagerDuty / webhook servers, routes pointing
at them, an outbox in a temp dir and a controllable clock.

Fixtures: ``slack_loopback``, ``pagerduty_loopback``, ``webhook_loopback`` (started servers),
``alert_routes`` (``{"slack", "slack-hook", "pagerduty", "webhook"}`` -> RouteConfig),
``alert_outbox`` (an :class:`~alerts.outbox.Outbox`), ``fake_clock`` (:class:`FakeClock`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from lightkeeper.alerts.loopback.pagerduty import PagerDutyLoopback
from lightkeeper.alerts.loopback.slack import LoopbackServer, SlackLoopback

WEBHOOK_SECRET = "loopback-secret"


@dataclass
class WebhookLoopback(LoopbackServer):
    """Generic webhook receiver at ``/hook``: verifies the HMAC signature (when ``secret``) and
    drops repeats of an idempotency key, like a well-behaved receiver."""

    secret: str | None = WEBHOOK_SECRET
    seen_keys: list[str] = field(default_factory=list)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/hook", self._hook)]

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hook"

    def unique_deliveries(self) -> list[dict[str, Any]]:
        out, seen = [], set()
        for r in self.accepted("/hook"):
            key = r.headers.get("X-Lightkeeper-Idempotency-Key")
            if key not in seen:
                seen.add(key)
                out.append(r.json)
        return out

    async def _hook(self, request: web.Request) -> web.Response:
        rec, action = await self._record(request)
        if action.status == 429:
            return self._respond(request, rec, 429, {"error": "slow down"}, action.retry_after or 1)
        if action.status != 200:
            return self._respond(request, rec, action.status, {"error": "failure"}, action.retry_after)
        if self.secret is not None:
            ts = request.headers.get("X-Lightkeeper-Timestamp", "")
            mac = hmac.new(self.secret.encode(), ts.encode() + b"." + rec.body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(f"sha256={mac}", request.headers.get("X-Lightkeeper-Signature", "")):
                return self._respond(request, rec, 401, {"error": "bad signature"})
        self.seen_keys.append(request.headers.get("X-Lightkeeper-Idempotency-Key", ""))
        return self._respond(request, rec, 200, {"ok": True})


class FakeClock:
    """A manual clock (Unix seconds) with an async ``sleep`` that just advances it."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest_asyncio.fixture
async def slack_loopback() -> AsyncIterator[SlackLoopback]:
    server = SlackLoopback()
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def pagerduty_loopback() -> AsyncIterator[PagerDutyLoopback]:
    server = PagerDutyLoopback()
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def webhook_loopback() -> AsyncIterator[WebhookLoopback]:
    server = WebhookLoopback()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def alert_routes(
    slack_loopback: SlackLoopback, pagerduty_loopback: PagerDutyLoopback, webhook_loopback: WebhookLoopback
) -> dict[str, Any]:
    from lightkeeper.alerts.settings import RouteConfig

    return {
        name: RouteConfig.model_validate(cfg)
        for name, cfg in {
            "slack": {
                "type": "slack",
                "token": slack_loopback.token,
                "channel": "#alerts",
                "base_url": slack_loopback.api_url,
                "timeout_s": 2,
            },
            "slack-hook": {"type": "slack_webhook", "url": slack_loopback.webhook_url(), "timeout_s": 2},
            "pagerduty": {
                "type": "pagerduty",
                "routing_key": "R" * 32,
                "base_url": pagerduty_loopback.url,
                "timeout_s": 2,
            },
            "webhook": {
                "type": "webhook",
                "url": webhook_loopback.hook_url,
                "secret": WEBHOOK_SECRET,
                "timeout_s": 2,
            },
        }.items()
    }


@pytest.fixture
def alert_outbox(tmp_path: Path) -> Iterator[Any]:
    from lightkeeper.alerts.outbox import Outbox

    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
