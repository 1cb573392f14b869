"""aiokafka against the real session broker: produce/consume with keys and headers."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from lightkeeper.kafka.client import consumer_kwargs, producer_kwargs


async def test_round_trip_keeps_keys_headers_and_order(kafka_settings, unique_topic, unique_group):
    topic = unique_topic("rt", partitions=3)
    producer = AIOKafkaProducer(**producer_kwargs(kafka_settings), acks="all", compression_type="lz4")
    await producer.start()
    try:
        sent = []
        for i in range(30):
            key = f"user-{i % 4}".encode()
            headers = [("event-id", str(i).encode()), ("schema", b"1")]
            md = await producer.send_and_wait(topic, f"payload-{i}".encode(), key=key, headers=headers)
            sent.append((key, md.partition, i))
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        **consumer_kwargs(kafka_settings),
        group_id=unique_group(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got = []
    try:
        async with asyncio.timeout(30):
            while len(got) < 30:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    got.extend(records)
        await consumer.commit()
    finally:
        await consumer.stop()

    assert len(got) == 30
    by_id = {int(dict(r.headers)["event-id"]): r for r in got}
    assert sorted(by_id) == list(range(30))
    for key, partition, i in sent:
        rec = by_id[i]
        assert rec.key == key
        assert rec.value == f"payload-{i}".encode()
        assert rec.partition == partition
        assert dict(rec.headers)["schema"] == b"1"
    # same key -> same partition, and per-partition order is the send order
    partitions_by_key: dict[bytes, set[int]] = {}
    for rec in got:
        partitions_by_key.setdefault(rec.key, set()).add(rec.partition)
    assert all(len(p) == 1 for p in partitions_by_key.values())
    for part in {r.partition for r in got}:
        in_part = sorted((r for r in got if r.partition == part), key=lambda r: r.offset)
        ids = [int(dict(r.headers)["event-id"]) for r in in_part]
        assert ids == sorted(ids)


async def test_committed_offsets_resume_group(kafka_settings, unique_topic, unique_group):
    topic = unique_topic("resume")
    group = unique_group()
    producer = AIOKafkaProducer(**producer_kwargs(kafka_settings))
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, str(i).encode())
    finally:
        await producer.stop()

    async def consume(n: int) -> list[bytes]:
        c = AIOKafkaConsumer(
            topic,
            **consumer_kwargs(kafka_settings),
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await c.start()
        try:
            out: list[bytes] = []
            async with asyncio.timeout(20):
                while len(out) < n:
                    msg = await c.getone()
                    out.append(msg.value)
                    await c.commit()
            return out
        finally:
            await c.stop()

    assert await consume(2) == [b"0", b"1"]
    assert await consume(3) == [b"2", b"3", b"4"]
