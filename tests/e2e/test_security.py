"""Security, whole system: no provider key, ``Authorization`` value or configured secret reaches
Kafka, the store, logs or alert messages; PII is redacted before publishing; the agent listens on
loopback by default; hostile labels cannot inject SQL or Slack markup."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from _support.chaos import find_secrets
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.processors.pipeline import Pipeline, RawEvent
from lightkeeper.processors.sink import Sink
from lightkeeper.settings import KafkaSettings

PROVIDER_KEY = "sk-live-" + "Q7xK2mN9pL4vR8tY3wZ6" * 2
BEARER = "opaque" + uuid.uuid4().hex  # sent as "Authorization: Bearer <it>"
ANTHROPIC_KEY = "sk-ant-api03-" + "Hh5Jj8Kk2Ll6" * 3
INGEST_TOKEN = "ingest-" + uuid.uuid4().hex
SLACK_TOKEN = "xoxb-" + "918273645546-" + uuid.uuid4().hex
EMAIL, CARD, PHONE = "jane.doe@example.org", "4111 1111 1111 1111", "+1 415 555 0137"
SQLI, SLACK_MARKUP = "x' OR 1=1 --", "<!channel> *bold* <http://evil|click>"


async def _topic_bytes(ks: KafkaSettings) -> dict[str, bytes]:
    """Every record (key, value, headers) of every Lightkeeper topic of this prefix."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=ks.bootstrap_servers, group_id=None, auto_offset_reset="earliest"
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=ks.bootstrap_servers)
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics() if t.startswith(ks.topic_prefix))
    finally:
        await admin.close()
    assert topics
    await consumer.start()
    out: dict[str, bytes] = {}
    try:
        consumer.subscribe(topics)
        quiet = 0
        while quiet < 4:
            batch = await consumer.getmany(timeout_ms=500)
            quiet = 0 if batch else quiet + 1
            for tp, msgs in batch.items():
                for m in msgs:
                    blob = (
                        (m.key or b"")
                        + b"|"
                        + (m.value or b"")
                        + b"".join(k.encode() + v for k, v in m.headers)
                    )
                    out[f"kafka:{tp.topic}:{tp.partition}:{m.offset}"] = blob
    finally:
        await consumer.stop()
    return out


def _tables(client: Any, db: str) -> dict[str, bytes]:
    names = [
        r[0] for r in client.query(f"SELECT name FROM system.tables WHERE database = '{db}'").result_rows
    ]
    return {f"store:{n}": client.raw_query(f"SELECT * FROM {db}.`{n}` FORMAT TSV") for n in names}


async def test_no_secret_reaches_kafka_store_or_logs_and_pii_is_redacted(
    agent_factory: Any, kafka_settings: KafkaSettings, store_client: Any, store_database: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    agent = await agent_factory(sink="kafka", kafka=kafka_settings.model_dump(), ingest_token=INGEST_TOKEN)
    for _ in range(300):
        if agent.sink.kafka_healthy:
            break
        await asyncio.sleep(0.1)
    prompt = f"my key is {PROVIDER_KEY}, mail {EMAIL}, card {CARD}, call {PHONE}; auth Bearer {BEARER}"
    async with aiohttp.ClientSession() as http:
        for i, auth in enumerate(
            (
                {"Authorization": f"Bearer {PROVIDER_KEY}"},
                {"Authorization": f"Bearer {BEARER}"},
                {"x-api-key": ANTHROPIC_KEY},
            )
        ):
            path = "/v1/messages" if "x-api-key" in auth else "/v1/chat/completions"
            body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
            if path == "/v1/messages":
                body = {"model": "claude-3-5-haiku", "max_tokens": 50, "messages": body["messages"]}
            headers = {
                **auth,
                "X-Fake-Answer": f"echo {PROVIDER_KEY} {EMAIL}",
                "X-Lightkeeper-Tags": f"req={i}",
            }
            async with http.post(agent.url + path, json=body, headers=headers) as r:
                assert r.status == 200, await r.text()
        ingested = {
            "app": "ingested",
            "request_model": "gpt-4o-mini",
            "start_time": datetime.now(UTC).isoformat(),
            "input_messages": [{"role": "user", "content": prompt}],
            "output": {"text": f"token={BEARER}"},
        }
        async with http.post(
            agent.url + "/v1/events", json=[ingested], headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
        ) as r:
            assert r.status == 200, await r.text()
    for _ in range(300):
        if agent.sink.counts["published"] >= 4:
            break
        await asyncio.sleep(0.1)
    await agent.stop()
    blobs = await _topic_bytes(kafka_settings)
    events = [
        b.split(b"|", 1)[1]
        for k, b in blobs.items()
        if k.startswith(f"kafka:{kafka_settings.topic('events')}")
    ]
    assert len(events) == 4, blobs.keys()
    decoded = [orjson.loads(e) for e in events]
    assert all(d["redacted"] for d in decoded) and {"EMAIL", "CREDIT_CARD", "PHONE"} <= set(
        decoded[0]["redaction_types"]
    )
    batch = Pipeline().process([RawEvent(e) for e in events])
    assert not batch.dead
    assert await Sink(store_client, database=store_database).store(batch)
    blobs.update(_tables(store_client, store_database))
    blobs["logs"] = caplog.text.encode()
    assert any(b"<EMAIL>" in v for v in blobs.values())  # the scan does see the captured texts
    secrets = [PROVIDER_KEY, BEARER, ANTHROPIC_KEY, INGEST_TOKEN, EMAIL, CARD, PHONE]
    hits = find_secrets(blobs, secrets)
    assert hits == [], [(w, s, blobs[w][:600]) for w, s in hits[:3]]


def test_agent_listens_on_loopback_by_default() -> None:
    assert AgentSettings.load(None).host == "127.0.0.1"


def _events(app: str, start: datetime, n: int) -> list[dict[str, Any]]:
    return [
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


async def test_hostile_labels_cannot_inject_sql_or_slack_markup(
    tmp_path: Path, store_client: Any, store_database: str, slack_loopback: Any, pagerduty_loopback: Any,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    from lightkeeper.processors.settings import WorkerSettings
    from lightkeeper.runtime import EmbeddedRuntime

    caplog.set_level(logging.INFO)
    slack_loopback.token = SLACK_TOKEN
    pd_key = "R" + uuid.uuid4().hex[:31]
    config = tmp_path / "lightkeeper.yaml"
    routes = {
        "slack": {
            "type": "slack",
            "token": SLACK_TOKEN,
            "channel": "#alerts",
            "base_url": slack_loopback.api_url,
            "timeout_s": 2,
        },
        "pager": {
            "type": "pagerduty",
            "routing_key": pd_key,
            "base_url": pagerduty_loopback.url,
            "timeout_s": 2,
        },
    }
    rules = {
        "rules": [
            {
                "name": "busy-app",
                "metric": "requests",
                "aggregate": "sum",
                "window": "5m",
                "threshold": 5,
                "group_by": ["app"],
                "severity": "critical",
                "routes": ["slack", "pager"],
            }
        ]
    }
    config.write_text(yaml.safe_dump({"alerts": {"routes": routes}}))
    monkeypatch.setenv("LIGHTKEEPER_CONFIG", str(config))
    common: dict[str, Any] = {"store__database": store_database, "data_dir": tmp_path / "rt"}
    ws = WorkerSettings.load(str(config), stages=["anomalies", "alerts"], alert_rules_inline=rules,
                             batch_max=100, batch_within_s=0.1, **common)  # fmt: skip
    ag = AgentSettings.load(str(config), port=0, ensure_topics=False, ingest_token=INGEST_TOKEN, **common)
    runtime = EmbeddedRuntime(ag, ws, client=store_client)
    await runtime.start()
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    try:
        async with aiohttp.ClientSession() as http:
            for app in (SQLI, SLACK_MARKUP):
                payload = _events(app, t0, 20) + _events(app, t0 + timedelta(minutes=3), 1)
                async with http.post(
                    runtime.url + "/v1/events",
                    json=payload,
                    headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
                ) as r:
                    assert r.status == 200, await r.text()
        await runtime.wait_idle(60)
        for _ in range(150):  # the dispatcher delivers from the outbox in its own task
            if len(slack_loopback.messages()) >= 2 and len(pagerduty_loopback.accepted()) >= 2:
                break
            await asyncio.sleep(0.2)
    finally:
        await runtime.stop()
    slack = slack_loopback.messages()
    pd = [r.json for r in pagerduty_loopback.accepted()]
    assert len(slack) == 2 and len(pd) == 2, (slack, pd)
    slack_text = orjson.dumps(slack).decode()
    assert "<!channel>" not in slack_text and "<http://evil|click>" not in slack_text, slack_text
    assert "&lt;!channel&gt;" in slack_text or "&lt;" in slack_text
    # the SQL sent with each alert runs as intended against the store (no injection)
    for event in pd:
        details = event["payload"]["custom_details"]
        sql = details["sql"].replace("lightkeeper.", f"{store_database}.")
        store_client.query(sql)  # a syntax error here would mean the label broke out of its quotes
    found = store_client.query(
        f"SELECT DISTINCT app FROM {store_database}.events_dedup WHERE app IN {{apps:Array(String)}}",
        parameters={"apps": [SQLI, SLACK_MARKUP]},
    )
    apps = {r[0] for r in found.result_rows}
    assert apps == {SQLI, SLACK_MARKUP}
    blobs = {f"slack:{i}": r.body for i, r in enumerate(slack_loopback.accepted())}
    blobs |= {f"pagerduty:{i}": r.body for i, r in enumerate(pagerduty_loopback.accepted())}
    blobs |= _tables(store_client, store_database) | {"logs": caplog.text.encode()}
    assert find_secrets(blobs, [SLACK_TOKEN, INGEST_TOKEN]) == []
