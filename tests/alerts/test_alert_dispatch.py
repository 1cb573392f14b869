"""Outbox + dispatcher: retries, Retry-After, 500s, timeouts, restarts — delivered once."""

from __future__ import annotations

import asyncio

import pytest
from alert_helpers import make_note

from lightkeeper.alerts.delivery import Dispatcher, RetryPolicy, build_channels
from lightkeeper.alerts.loopback.slack import Action
from lightkeeper.alerts.outbox import Outbox
from lightkeeper.alerts.settings import RetrySettings

SLACK = "/api/chat.postMessage"


def _enqueue(box: Outbox, route: str, clock, kind: str = "firing") -> str:
    note = make_note(kind)
    key = f"{note.key}|{route}"
    assert box.enqueue(key, route, note.to_json(), clock())
    return key


def _dispatcher(box, alert_routes, clock, route: str, **retry) -> Dispatcher:
    policy = RetryPolicy(RetrySettings(base_delay_s=0.5, max_delay_s=5, jitter=0.2, **retry))
    return Dispatcher(
        box, build_channels({route: alert_routes[route]}), policy=policy, clock=clock, sleep=clock.sleep
    )


async def test_429_retry_after_honored(alert_outbox, alert_routes, slack_loopback, fake_clock):
    slack_loopback.script(SLACK, Action(429, retry_after=7), Action(429, retry_after=3))
    key = _enqueue(alert_outbox, "slack", fake_clock)
    d = _dispatcher(alert_outbox, alert_routes, fake_clock, "slack")
    await d.drain()
    await d.aclose()
    assert len(slack_loopback.accepted(SLACK)) == 1 and len(slack_loopback.requests) == 3
    assert 7 <= fake_clock.sleeps[0] <= 7.7 and 3 <= fake_clock.sleeps[1] <= 3.3
    item = alert_outbox.get(key)
    assert item is not None and item.status == "sent" and item.attempts == 3


async def test_500s_back_off_exponentially(alert_outbox, alert_routes, pagerduty_loopback, fake_clock):
    pagerduty_loopback.script("/v2/enqueue", Action(500), Action(502), Action(503))
    key = _enqueue(alert_outbox, "pagerduty", fake_clock)
    d = _dispatcher(alert_outbox, alert_routes, fake_clock, "pagerduty")
    await d.drain()
    await d.aclose()
    assert len(pagerduty_loopback.events()) == 1
    s = fake_clock.sleeps
    assert len(s) == 3 and 0.4 <= s[0] <= 0.6 and 0.8 <= s[1] <= 1.2 and 1.6 <= s[2] <= 2.4
    assert alert_outbox.get(key).status == "sent"


async def test_gives_up_after_max_attempts_and_on_permanent(
    alert_outbox, alert_routes, webhook_loopback, fake_clock
):
    webhook_loopback.script("/hook", *[Action(500)] * 3)
    key = _enqueue(alert_outbox, "webhook", fake_clock)
    d = _dispatcher(alert_outbox, alert_routes, fake_clock, "webhook", max_attempts=3)
    await d.drain()
    assert alert_outbox.get(key).status == "failed" and alert_outbox.get(key).attempts == 3
    webhook_loopback.script("/hook", Action(404))
    key2 = _enqueue(alert_outbox, "webhook", fake_clock, kind="resolved")
    await d.drain()
    await d.aclose()
    assert alert_outbox.get(key2).status == "failed" and alert_outbox.get(key2).attempts == 1


async def test_timeout_then_success_delivered_once(alert_outbox, alert_routes, webhook_loopback, fake_clock):
    webhook_loopback.script("/hook", Action(200, delay=1.0))
    routes = {"webhook": alert_routes["webhook"].model_copy(update={"timeout_s": 0.2})}
    d = Dispatcher(
        alert_outbox,
        build_channels(routes),
        clock=fake_clock,
        sleep=fake_clock.sleep,
        policy=RetryPolicy(RetrySettings(base_delay_s=0.1)),
    )
    key = _enqueue(alert_outbox, "webhook", fake_clock)
    await d.drain()
    await d.aclose()
    await asyncio.sleep(1.0)  # let the slow handler finish: it must not count (client gave up)
    assert len(webhook_loopback.requests) == 2
    assert len(webhook_loopback.accepted()) == 1
    assert alert_outbox.get(key).status == "sent"


async def test_restart_mid_delivery_delivers_once(tmp_path, alert_routes, slack_loopback, fake_clock):
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    key = _enqueue(box, "slack", fake_clock)
    slack_loopback.script(SLACK, Action(200, delay=1.5))  # hangs: the process dies meanwhile
    d = _dispatcher(box, alert_routes, fake_clock, "slack")
    task = asyncio.create_task(d.run_once())
    for _ in range(500):
        if slack_loopback.requests:
            break
        await asyncio.sleep(0.01)
    task.cancel()  # crash mid-delivery
    with pytest.raises(asyncio.CancelledError):
        await task
    await d.aclose()
    box.close()
    box2 = Outbox(path)  # restart
    assert box2.get(key).status == "pending"
    d2 = _dispatcher(box2, alert_routes, fake_clock, "slack")
    await d2.drain()
    await d2.run_once()  # nothing left: a second pass sends nothing
    await d2.aclose()
    assert len(slack_loopback.accepted(SLACK)) == 1
    assert box2.get(key).status == "sent"
    box2.close()


async def test_unknown_route_fails_cleanly(alert_outbox, fake_clock):
    key = _enqueue(alert_outbox, "nowhere", fake_clock)
    d = Dispatcher(alert_outbox, {}, clock=fake_clock, sleep=fake_clock.sleep)
    await d.drain()
    item = alert_outbox.get(key)
    assert item.status == "failed" and "no route named" in item.last_error


async def test_run_loop_stops(alert_outbox, alert_routes, slack_loopback):
    d = Dispatcher(alert_outbox, build_channels({"slack": alert_routes["slack"]}))
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop, poll_s=0.05))
    import time

    _enqueue(alert_outbox, "slack", time.time)
    for _ in range(100):
        if slack_loopback.accepted():
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 2)
    await d.aclose()
    assert len(slack_loopback.accepted()) == 1 and d.sent == 1
