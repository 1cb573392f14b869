"""The agent publishing to a real Kafka broker: round trip, broker outage, agent restart.

Each request carries a unique ``req`` tag; the tests consume the whole topic and count the
events per request: every request must arrive exactly once (none lost, duplicates reported).
"""

from __future__ import annotations

import asyncio
import collections
import time

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer

from lightkeeper.kafka.client import consumer_kwargs
from lightkeeper.schemas.codec import decode_event
from lightkeeper.settings import KafkaSettings

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


async def _send(agent, start: int, n: int, session: aiohttp.ClientSession) -> None:
    async def one(i: int) -> None:
        async with session.post(
            agent.url + "/v1/chat/completions", json=CHAT, headers={"X-Lightkeeper-Tags": f"req={i}"}
        ) as r:
            assert r.status == 200

    await asyncio.gather(*(one(i) for i in range(start, start + n)))


async def _wait_kafka(agent, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not agent.sink.kafka_healthy:
        assert time.monotonic() < deadline, "agent never connected to Kafka"
        await asyncio.sleep(0.05)


async def _consume(
    settings: KafkaSettings, expected: int, timeout_s: float = 60.0
) -> collections.Counter[str]:
    consumer = AIOKafkaConsumer(
        settings.topic("events"),
        **consumer_kwargs(settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    counts: collections.Counter[str] = collections.Counter()
    keys_ok = True
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                for m in msgs:
                    ev = decode_event(m.value)
                    keys_ok &= m.key == (ev.trace_id or ev.event_id).encode()
                    counts[ev.tags.get("req", ev.event_id)] += 1
            if sum(counts.values()) >= expected and not batch:
                break
    finally:
        await consumer.stop()
    assert keys_ok, "message key must be trace_id or event_id"
    return counts


async def test_events_published_to_kafka(agent_factory, kafka_settings):
    agent = await agent_factory(sink="kafka", kafka=kafka_settings.model_dump())
    await _wait_kafka(agent)
    async with aiohttp.ClientSession() as s:
        await _send(agent, 0, 40, s)
    await agent.stop()  # flushes
    counts = await _consume(kafka_settings, 40)
    assert counts == collections.Counter({str(i): 1 for i in range(40)})
    assert agent.sink.counts["published"] == 40 and agent.sink.counts["dropped"] == 0


@pytest.mark.slow
async def test_broker_outage_spools_then_replays_exactly_once(agent_factory, kafka_broker_factory, tmp_path):
    broker = await asyncio.to_thread(kafka_broker_factory)
    ks = KafkaSettings(bootstrap_servers=broker.bootstrap, topic_prefix="outage.", partitions=3)
    agent = await agent_factory(
        sink="kafka", kafka=ks.model_dump(), publish_timeout_s=3, replay_interval_s=0.5
    )
    pub = agent.sink
    await _wait_kafka(agent)
    async with aiohttp.ClientSession() as s:
        await _send(agent, 0, 30, s)
        for _ in range(100):
            if pub.counts["published"] >= 30:
                break
            await asyncio.sleep(0.1)
        assert pub.counts["published"] == 30
        await asyncio.to_thread(broker.stop)
        t0 = time.monotonic()
        await _send(agent, 30, 20, s)  # the application keeps working while Kafka is down
        assert time.monotonic() - t0 < 5
        await asyncio.sleep(4)  # > publish_timeout_s: the agent notices the outage
        t0 = time.monotonic()
        await _send(agent, 50, 40, s)
        assert time.monotonic() - t0 < 5
        for _ in range(200):
            if pub.counts["spooled"] >= 40:
                break
            await asyncio.sleep(0.1)
        assert pub.counts["spooled"] >= 40, pub.counts
        assert pub.spool.pending_records >= 40
        async with s.get(agent.url + "/readyz") as r:
            assert (await r.json())["kafka"] is False
        await asyncio.to_thread(broker.start)
        await _send(agent, 90, 10, s)
        for _ in range(600):
            if pub.spool.pending_records == 0 and pub.counts["published"] + pub.counts["replayed"] >= 100:
                break
            await asyncio.sleep(0.1)
    await agent.stop()
    counts = await _consume(ks, 100)
    missing = [str(i) for i in range(100) if counts[str(i)] == 0]
    duplicates = {k: c for k, c in counts.items() if c > 1}
    print(f"outage test: published={pub.counts} duplicates={len(duplicates)}")
    assert not missing, f"lost events for requests {missing}"
    assert not duplicates, f"duplicated events: {duplicates}"
    assert pub.counts["dropped"] == 0


async def test_agent_restart_replays_the_spool(agent_factory, kafka_settings, tmp_path):
    down = KafkaSettings(bootstrap_servers="127.0.0.1:1", topic_prefix=kafka_settings.topic_prefix)
    spool_dir = tmp_path / "restart-spool"
    first = await agent_factory(
        sink="kafka", kafka=down.model_dump(), spool_dir=spool_dir, publish_timeout_s=1
    )
    async with aiohttp.ClientSession() as s:
        await _send(first, 0, 25, s)
    await first.stop()
    assert first.sink.counts["spooled"] == 25 and first.sink.counts["published"] == 0
    second = await agent_factory(sink="kafka", kafka=kafka_settings.model_dump(), spool_dir=spool_dir)
    for _ in range(300):
        if second.sink.counts["replayed"] >= 25:
            break
        await asyncio.sleep(0.1)
    await second.stop()
    counts = await _consume(kafka_settings, 25)
    assert counts == collections.Counter({str(i): 1 for i in range(25)})
    assert not list(spool_dir.glob("*.seg")) or second.sink.spool.pending_records == 0


async def test_spool_full_drops_are_counted_and_calls_still_succeed(agent_factory, tmp_path):
    down = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    agent = await agent_factory(
        sink="kafka", kafka=down.model_dump(), spool_max_bytes=4096, publish_timeout_s=1
    )
    async with aiohttp.ClientSession() as s:
        await _send(agent, 0, 30, s)  # asserts every call returned 200
        for _ in range(100):
            if agent.sink.counts["spooled"] + agent.sink.counts["dropped"] >= 30:
                break
            await asyncio.sleep(0.05)
        metrics = await (await s.get(agent.url + "/metrics")).text()
    counts = agent.sink.counts
    assert counts["spooled"] + counts["dropped"] == 30 and counts["dropped"] > 0 and counts["spooled"] > 0
    assert f'lightkeeper_agent_events_dropped_total{{reason="spool_full"}} {counts["dropped"]}.0' in metrics
    assert agent.sink.spool.pending_bytes <= 4096


async def test_events_within_linger_share_one_kafka_request(agent_factory, kafka_settings):
    """Events buffered within ``linger_ms`` leave in one produce request, whatever their partitions:
    a request per event (or per partition) costs CPU in the agent and in the broker."""
    agent = await agent_factory(sink="kafka", kafka=kafka_settings.model_dump(), linger_ms=3000)
    await _wait_kafka(agent)
    client = agent.sink._producer.client
    real_send = client.send
    produce_requests: list[object] = []

    async def counting_send(node_id, request, *args, **kwargs):
        if type(request).__name__.startswith("ProduceRequest"):
            produce_requests.append(request)
        return await real_send(node_id, request, *args, **kwargs)

    client.send = counting_send
    async with aiohttp.ClientSession() as s:
        await _send(agent, 0, 24, s)  # keys are event ids: the records spread over the partitions
    for _ in range(300):
        if agent.sink.counts["published"] >= 24:
            break
        await asyncio.sleep(0.05)
    assert agent.sink.counts["published"] == 24
    assert len(produce_requests) == 1
    await agent.stop()
    counts = await _consume(kafka_settings, 24)
    assert counts == collections.Counter({str(i): 1 for i in range(24)})
