"""The faust worker on a real Kafka broker and embedded stores (worker subprocesses)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.request import urlopen

from aiokafka import AIOKafkaConsumer

from lightkeeper.kafka.topics import ensure_topics_async
from lightkeeper.settings import KafkaSettings
from tests.worker import helpers
from tests.worker.helpers import COST_PER_EVENT, raw
from tests.worker.procs import WorkerProc, free_port, group_members, produce, wait_committed


def _app_id() -> str:
    return f"lkw-{uuid.uuid4().hex[:8]}"


async def _dead_letters(kafka: KafkaSettings, n: int) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        kafka.topic("dead-letters"),
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    out: list[tuple[bytes, dict[str, bytes]]] = []
    try:
        for _ in range(30):
            batches = await consumer.getmany(timeout_ms=500)
            out.extend((m.value, dict(m.headers)) for msgs in batches.values() for m in msgs)
            if len(out) >= n:
                break
    finally:
        await consumer.stop()
    return out


async def test_worker_stores_exact_counts_and_costs_and_dead_letters_poison(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics_async(kafka_settings)
    app_id = _app_id()
    port = free_port()
    worker = WorkerProc(kafka_settings, app_id, tmp_path / "w", metrics_port=port).start()
    try:
        n = 1500
        values = [raw(i) for i in range(n)]
        poison = [b"not json at all", b'{"app": ""}', b'{"usage": {"input_tokens": "many"}}']
        values[100:100] = poison
        await produce(kafka_settings, kafka_settings.topic("events"), values)
        await wait_committed(
            kafka_settings, app_id, kafka_settings.topic("events"), len(values), 90, [worker]
        )
        metrics = urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()  # noqa: ASYNC210
        assert f'lightkeeper_worker_events_total{{outcome="stored"}} {float(n)}' in metrics
        assert 'lightkeeper_worker_dead_letters_total{stage="decode"} 3.0' in metrics
        assert "lightkeeper_worker_insert_seconds_bucket" in metrics
        assert "lightkeeper_worker_consumer_lag" in metrics
        letters = await _dead_letters(kafka_settings, 3)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    assert sorted(v for v, _ in letters) == sorted(poison)
    for _value, headers in letters:
        assert headers["lightkeeper.stage"] == b"decode"
        assert headers["lightkeeper.source.topic"] == kafka_settings.topic("events").encode()
        assert int(headers["lightkeeper.source.offset"]) >= 0
    reasons = {v: h["lightkeeper.reason"].decode() for v, h in letters}
    assert (
        "app" in reasons[b'{"app": ""}']
        and "usage.input_tokens" in reasons[b'{"usage": {"input_tokens": "many"}}']
    )
    rows = worker.query(
        "SELECT count(), uniqExact(event_id), sum(cost_usd), sum(input_tokens) FROM lightkeeper.events_dedup"
    )
    assert rows == [[str(n), str(n), str(Decimal(COST_PER_EVENT) * n), str(1000 * n)]]


async def test_worker_sigkilled_mid_stream_loses_and_double_counts_nothing(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    await ensure_topics_async(kafka_settings)
    app_id = _app_id()
    topic = kafka_settings.topic("events")
    n = 12_000
    values = [raw(i) for i in range(n)]
    await produce(kafka_settings, topic, values[:4000])
    first = WorkerProc(kafka_settings, app_id, tmp_path / "w", batch_max=200).start()
    try:
        await wait_committed(kafka_settings, app_id, topic, 1, 90, [first])
        # the rest of the stream arrives while the worker runs; it is killed in the middle
        feeding = asyncio.create_task(produce(kafka_settings, topic, values[4000:], rate=1000.0))
        await asyncio.sleep(2.0)
    finally:
        first.kill()
    assert not feeding.done(), "the stream ended before the worker was killed"
    await feeding
    second = WorkerProc(kafka_settings, app_id, tmp_path / "w", batch_max=200).start()
    try:
        await wait_committed(kafka_settings, app_id, topic, n, 90, [second])
    finally:
        assert second.stop() == 0, second.log_tail()
    rows = second.query(
        "SELECT count(), uniqExact(event_id), sum(cost_usd), sum(output_tokens) FROM lightkeeper.events_dedup"
    )
    assert rows == [[str(n), str(n), str(Decimal(COST_PER_EVENT) * n), str(200 * n)]]


async def test_two_workers_split_the_partitions(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    await ensure_topics_async(kafka_settings)
    app_id = _app_id()
    topic = kafka_settings.topic("events")
    workers = [WorkerProc(kafka_settings, app_id, tmp_path / f"w{i}").start() for i in range(2)]
    try:
        for _ in range(120):
            if await group_members(kafka_settings, app_id) == 2:
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError("the two workers never formed one group:\n" + workers[0].log_tail())
        n = 3000
        await produce(
            kafka_settings, topic, [raw(i) for i in range(n)], keys=[str(i).encode() for i in range(n)]
        )
        await wait_committed(kafka_settings, app_id, topic, n, 90, workers)
    finally:
        for w in workers:
            w.stop()
    counts = [int(w.query("SELECT count() FROM lightkeeper.events_dedup")[0][0]) for w in workers]
    assert sum(counts) == n and min(counts) > 0, counts
    ids = [{r[0] for r in w.query("SELECT event_id FROM lightkeeper.events_dedup")} for w in workers]
    assert not ids[0] & ids[1]


async def test_keyed_monitors_see_each_app_model_and_fire_alerts(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """Stateful stages run on the stream repartitioned by app|model: per-minute series are built
    from every event of a key and an alert rule over them fires (event time)."""
    import yaml

    config = tmp_path / "lightkeeper.yaml"
    rules = {
        "rules": [
            {
                "name": "busy-model",
                "metric": "requests",
                "aggregate": "sum",
                "window": "5m",
                "threshold": 100,
                "group_by": ["app", "model"],
                "severity": "high",
            }
        ]
    }
    config.write_text(yaml.safe_dump({"worker": {"alert_rules_inline": rules}}))
    await ensure_topics_async(kafka_settings)
    app_id = _app_id()
    topic = kafka_settings.topic("events")
    later = helpers.T0 + timedelta(minutes=3)
    values = [raw(i, app="shop" if i % 2 else "blog") for i in range(400)]
    values += [raw(1000 + i, app=app, start_time=later) for i in range(5) for app in ("shop", "blog")]
    worker = WorkerProc(
        kafka_settings, app_id, tmp_path / "w", config=config, stages="anomalies,alerts"
    ).start()
    try:
        await produce(kafka_settings, topic, values)
        await wait_committed(kafka_settings, app_id, topic, len(values), 90, [worker])
        monitor = f"{kafka_settings.topic_prefix}{app_id}-monitor-by-key"
        await wait_committed(kafka_settings, app_id, monitor, len(values), 60, [worker])
    finally:
        assert worker.stop() == 0, worker.log_tail()
    alerts = worker.query(
        "SELECT rule, labels['app'], labels['model'], state FROM lightkeeper.alerts FINAL "
        "ORDER BY labels['app']"
    )
    assert alerts == [
        ["busy-model", "blog", "gpt-4o-mini-2024-07-18", "firing"],
        ["busy-model", "shop", "gpt-4o-mini-2024-07-18", "firing"],
    ]
    assert worker.query("SELECT count() FROM lightkeeper.events_dedup") == [[str(len(values))]]


async def test_a_worker_joining_mid_stream_loses_nothing(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """A rebalance while events flow (a second worker joins): every event ends up stored by one
    of the workers; faust's skipped-during-rebalance messages are never committed unstored."""
    await ensure_topics_async(kafka_settings)
    app_id = _app_id()
    topic = kafka_settings.topic("events")
    n = 4000
    values = [raw(i) for i in range(n)]
    first = WorkerProc(kafka_settings, app_id, tmp_path / "w0", batch_max=100).start()
    second = WorkerProc(kafka_settings, app_id, tmp_path / "w1", batch_max=100)
    try:
        await produce(kafka_settings, topic, values[:200])
        await wait_committed(kafka_settings, app_id, topic, 1, 90, [first])
        feeding = asyncio.create_task(produce(kafka_settings, topic, values[200:], rate=150.0))
        second.start()  # joins while the stream is flowing: a rebalance mid-stream
        for _ in range(120):
            if await group_members(kafka_settings, app_id) == 2:
                break
            await asyncio.sleep(0.5)
        assert not feeding.done(), "the second worker joined after the stream ended"
        await feeding
        await wait_committed(kafka_settings, app_id, topic, n, 120, [first, second])
    finally:
        first.stop()
        second.stop()
    ids = [{r[0] for r in w.query("SELECT event_id FROM lightkeeper.events_dedup")} for w in (first, second)]
    assert len(ids[0] | ids[1]) == n, (len(ids[0]), len(ids[1]))
    assert ids[0] and ids[1]
