"""Channels against the loopback Slack / PagerDuty / webhook servers."""

from __future__ import annotations

import pytest
from alert_helpers import make_note

from _support.alert_fixtures import WEBHOOK_SECRET
from lightkeeper.alerts.delivery import build_channel
from lightkeeper.alerts.delivery.slack_blocks import escape
from lightkeeper.alerts.delivery.webhook import verify_signature
from lightkeeper.alerts.loopback.slack import Action
from lightkeeper.errors import DeliveryError


async def test_slack_web_api_posts_block_kit(alert_routes, slack_loopback, note):
    ch = build_channel("slack", alert_routes["slack"])
    try:
        await ch.send(note)
    finally:
        await ch.aclose()
    [msg] = slack_loopback.messages()
    assert msg["channel"] == "#alerts"
    kinds = [b["type"] for b in msg["blocks"]]
    assert kinds[0] == "header" and "context" in kinds
    text = str(msg["blocks"])
    assert "0.08 &gt; 0.02" in text and "SELECT 1" in text and "model=gpt-x" in text


async def test_slack_incoming_webhook(alert_routes, slack_loopback, note):
    ch = build_channel("slack-hook", alert_routes["slack-hook"])
    try:
        await ch.send(note)
    finally:
        await ch.aclose()
    assert len(slack_loopback.accepted()) == 1
    assert slack_loopback.accepted()[0].path.startswith("/services/")


def test_slack_escaping_defuses_mentions_and_links():
    out = escape("<!channel> @channel & <https://evil|click> @here")
    assert "<" not in out and ">" not in out
    assert "@channel" not in out and "@here" not in out
    assert "&amp;" in out


async def test_slack_labels_escaped_in_blocks(alert_routes, slack_loopback):
    note = make_note(labels={"app": "<!everyone> @channel"})
    ch = build_channel("slack", alert_routes["slack"])
    try:
        await ch.send(note)
    finally:
        await ch.aclose()
    text = str(slack_loopback.messages()[0]["blocks"])
    assert "<!everyone>" not in text and "@channel" not in text


async def test_slack_429_maps_to_retry_after(alert_routes, slack_loopback, note):
    slack_loopback.script("/api/chat.postMessage", Action(429, retry_after=0.25))
    ch = build_channel("slack", alert_routes["slack"])
    try:
        with pytest.raises(DeliveryError) as err:
            await ch.send(note)
    finally:
        await ch.aclose()
    assert err.value.retry_after == pytest.approx(0.25)
    assert not err.value.permanent


async def test_slack_bad_channel_is_permanent(alert_routes, slack_loopback, note):
    route = alert_routes["slack"].model_copy(update={"channel": "#nope"})
    ch = build_channel("slack", route)
    try:
        with pytest.raises(DeliveryError) as err:
            await ch.send(note)
    finally:
        await ch.aclose()
    assert err.value.permanent


async def test_pagerduty_trigger_then_resolve_same_dedup_key(alert_routes, pagerduty_loopback):
    ch = build_channel("pagerduty", alert_routes["pagerduty"])
    try:
        await ch.send(make_note("firing"))
        assert pagerduty_loopback.incidents == {"lk-rule-abc": "triggered"}
        await ch.send(make_note("resolved", key="inc-1:1:resolved"))
    finally:
        await ch.aclose()
    trigger, resolve = pagerduty_loopback.events()
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "lk-rule-abc"
    assert trigger["payload"]["severity"] == "error"  # high -> error
    assert trigger["payload"]["custom_details"]["threshold"] == 0.02
    assert pagerduty_loopback.incidents == {"lk-rule-abc": "resolved"}


async def test_pagerduty_500_is_transient(alert_routes, pagerduty_loopback, note):
    pagerduty_loopback.script("/v2/enqueue", Action(500))
    ch = build_channel("pagerduty", alert_routes["pagerduty"])
    try:
        with pytest.raises(DeliveryError) as err:
            await ch.send(note)
    finally:
        await ch.aclose()
    assert not err.value.permanent and not pagerduty_loopback.incidents


async def test_webhook_signed_and_verifiable(alert_routes, webhook_loopback, note):
    ch = build_channel("webhook", alert_routes["webhook"])
    try:
        await ch.send(note)
    finally:
        await ch.aclose()
    [rec] = webhook_loopback.accepted()
    h = rec.headers
    assert verify_signature(
        WEBHOOK_SECRET, h["X-Lightkeeper-Timestamp"], rec.body, h["X-Lightkeeper-Signature"]
    )
    assert not verify_signature("wrong", h["X-Lightkeeper-Timestamp"], rec.body, h["X-Lightkeeper-Signature"])
    assert rec.json["rule"] == "tox-rate" and rec.json["incident_key"] == "lk-rule-abc"
    assert h["X-Lightkeeper-Idempotency-Key"] == note.key


async def test_webhook_timeout_is_transient(alert_routes, webhook_loopback, note):
    webhook_loopback.script("/hook", Action(200, delay=1.0))
    route = alert_routes["webhook"].model_copy(update={"timeout_s": 0.2})
    ch = build_channel("webhook", route)
    try:
        with pytest.raises(DeliveryError) as err:
            await ch.send(note)
    finally:
        await ch.aclose()
    assert not err.value.permanent
