"""Whole-system alert delivery under faults: the embedded runtime fires alerts for hostile-free
labels, loopback Slack and PagerDuty answer 429 / 500 / time out first, and the runtime is
restarted while deliveries are still pending. Every notification must arrive exactly once."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from _support.chaos import ScenarioResult

TOKEN = "ingest-chaos-token"


def _events(app: str, start: datetime, n: int) -> list[dict[str, Any]]:
    rows = [
        {
            "app": app,
            "request_model": "gpt-4o-mini",
            "provider_name": "openai",
            "http_status": 200,
            "start_time": (start + timedelta(seconds=i)).isoformat(),
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }
        for i in range(n)
    ]
    rows.append({**rows[0], "start_time": (start + timedelta(minutes=3)).isoformat()})  # closes the minutes
    return rows


async def alert_delivery(work: Path, client: Any, database: str, *, apps: int = 3) -> ScenarioResult:
    """``apps`` alerts fire, each notified to Slack and PagerDuty: ``2 * apps`` notifications
    expected; receivers fail first (429 with Retry-After, 500, a 3 s hang past a 2 s timeout)
    and the runtime restarts mid-delivery."""
    from lightkeeper.agent.settings import AgentSettings
    from lightkeeper.alerts.loopback.pagerduty import PagerDutyLoopback
    from lightkeeper.alerts.loopback.slack import Action, SlackLoopback
    from lightkeeper.processors.settings import WorkerSettings
    from lightkeeper.runtime import EmbeddedRuntime

    slack, pager = SlackLoopback(), PagerDutyLoopback()
    await slack.start()
    await pager.start()
    # every first attempt is told to come back in 12 s (the runtime is restarted meanwhile; long
    # enough that a slow, loaded machine still restarts before it), then a 500 and a hang past
    # the 2 s timeout before the receivers accept
    first_tries = [Action(429, retry_after=12)] * apps
    slack.script("/api/chat.postMessage", *first_tries, Action(500), Action(delay=3))
    pager.script("/v2/enqueue", *first_tries, Action(500), Action(delay=3))
    slack_route = {"type": "slack", "token": slack.token, "channel": "#alerts", "base_url": slack.api_url}
    pager_route = {"type": "pagerduty", "routing_key": "R" * 32, "base_url": pager.url}
    routes = {"slack": {**slack_route, "timeout_s": 2}, "pager": {**pager_route, "timeout_s": 2}}
    config = work / "lightkeeper.yaml"
    retry = {"max_attempts": 10, "base_delay_s": 0.3, "max_delay_s": 2, "jitter": 0}
    config.write_text(yaml.safe_dump({"alerts": {"routes": routes, "retry": retry}}))
    rules = {
        "rules": [
            {"name": "busy-app", "metric": "requests", "aggregate": "sum", "window": "5m", "threshold": 5,
             "group_by": ["app"], "severity": "critical", "routes": ["slack", "pager"]}
        ]
    }  # fmt: skip
    old = os.environ.get("LIGHTKEEPER_CONFIG")
    os.environ["LIGHTKEEPER_CONFIG"] = str(config)
    common: dict[str, Any] = {"store__database": database, "data_dir": work / "rt"}
    run = uuid.uuid4().hex[:6]
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)

    def runtime() -> EmbeddedRuntime:
        ws = WorkerSettings.load(
            str(config), stages=["anomalies", "alerts"], alert_rules_inline=rules, batch_max=100,
            batch_within_s=0.1, **common,
        )  # fmt: skip
        ag = AgentSettings.load(str(config), port=0, ensure_topics=False, ingest_token=TOKEN, **common)
        return EmbeddedRuntime(ag, ws, client=client)

    def sent() -> int:
        triggers = [r for r in pager.accepted() if (r.json or {}).get("event_action") == "trigger"]
        return len(slack.messages()) + len(triggers)

    try:
        first = runtime()
        await first.start()
        try:
            async with aiohttp.ClientSession() as http:
                payload = [e for i in range(apps) for e in _events(f"chaos-{run}-{i}", t0, 20)]
                auth = {"Authorization": f"Bearer {TOKEN}"}
                async with http.post(first.url + "/v1/events", json=payload, headers=auth) as r:
                    assert r.status == 200, await r.text()
            await first.wait_idle(60)
            for _ in range(100):  # until both receivers saw (failing) attempts
                if len(slack.requests) >= apps and len(pager.requests) >= apps:
                    break
                await asyncio.sleep(0.1)
        finally:
            await first.stop()
        at_restart = sent()
        second = runtime()
        await second.start()
        try:
            for _ in range(300):
                if sent() >= 2 * apps:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(3)  # anything duplicated would arrive now
        finally:
            await second.stop()
    finally:
        await slack.stop()
        await pager.stop()
        if old is None:
            os.environ.pop("LIGHTKEEPER_CONFIG", None)
        else:
            os.environ["LIGHTKEEPER_CONFIG"] = old
    attempts = len(slack.requests) + len(pager.requests)
    note = f"{at_restart} delivered before the restart; {attempts} attempts (429/500/timeout first)"
    return ScenarioResult(
        "alerts: 429/500/timeout + restart", 2 * apps, 0, 0, 0, 0, 2 * apps, sent(), note=note
    )


__all__ = ["alert_delivery"]
