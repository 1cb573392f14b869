"""The embedded runtime: agent -> in-process queue -> same pipeline -> same tables."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import aiohttp

from lightkeeper.agent.settings import AgentSettings
from lightkeeper.demo.fake_provider import start_fake_llm
from lightkeeper.kafka.topics import ensure_topics_async
from lightkeeper.processors.settings import WorkerSettings
from lightkeeper.runtime import EmbeddedRuntime
from lightkeeper.settings import KafkaSettings
from tests.worker.helpers import raw
from tests.worker.procs import WorkerProc, produce, wait_committed

_COMPARE = "SELECT * EXCEPT (ingested_at) FROM {db}.events_dedup ORDER BY event_id"


def _runtime(
    tmp_path: Path, store_url: str, database: str, client: Any, upstream: str = "http://127.0.0.1:9"
) -> EmbeddedRuntime:
    agent = AgentSettings(
        host="127.0.0.1",
        port=0,
        openai_base_url=upstream,
        anthropic_base_url=upstream,
        ensure_topics=False,
        publish_enabled=False,
        data_dir=tmp_path,
    )
    worker = WorkerSettings(
        data_dir=tmp_path, store={"url": store_url, "database": database}, batch_within_s=0.1, stages=[]
    )
    return EmbeddedRuntime(agent, worker, client=client, stages=[])


def _inputs() -> list[bytes]:
    values = [raw(i) for i in range(300)]
    values.append(raw(900, request_model="my-private-llm", response_model=None))
    values.append(
        raw(
            901,
            provider_name="anthropic",
            request_model="claude-3-5-haiku-20241022",
            response_model=None,
            usage={"input_tokens": 10, "output_tokens": 20, "cache_read_input_tokens": 5000},
        )
    )
    values.append(raw(902, usage={}, context_documents=[{"text": "doc", "id": "d1"}], tags={"team": "a"}))
    return values


async def test_embedded_runtime_gives_the_same_rows_as_the_kafka_path(
    kafka_settings: KafkaSettings, tmp_path: Path, store_url: str, store_database: str, store_client: Any
) -> None:
    values = _inputs()
    runtime = _runtime(tmp_path / "rt", store_url, store_database, store_client)
    await runtime.start()
    try:
        for v in values:
            runtime.queue.submit(None, v)
        runtime.queue.submit(None, b"{broken")
        await runtime.wait_idle(30)
    finally:
        await runtime.stop()
    assert (runtime.stored, runtime.dead) == (len(values), 1)
    assert "broken" not in (tmp_path / "rt" / "dead-letters.jsonl").read_text()  # stored base64
    embedded = [
        [None if v is None else str(v) for v in row]
        for row in store_client.query(_COMPARE.format(db=store_database)).result_rows
    ]

    await ensure_topics_async(kafka_settings)
    app_id = f"lkw-{uuid.uuid4().hex[:8]}"
    worker = WorkerProc(kafka_settings, app_id, tmp_path / "w").start()
    try:
        await produce(kafka_settings, kafka_settings.topic("events"), values)
        await wait_committed(
            kafka_settings, app_id, kafka_settings.topic("events"), len(values), 90, [worker]
        )
    finally:
        worker.stop()
    via_kafka = worker.query(_COMPARE.format(db="lightkeeper"))
    assert len(embedded) == len(values)
    assert via_kafka == embedded


async def test_agent_proxy_calls_land_in_the_store_with_cost(
    tmp_path: Path, store_url: str, store_database: str, store_client: Any
) -> None:
    _fake, fake_runner, base = await start_fake_llm()
    runtime = _runtime(tmp_path, store_url, store_database, store_client, upstream=base)
    await runtime.start()
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(5):
                resp = await http.post(
                    f"{runtime.url}/v1/chat/completions",
                    json={
                        "model": "gpt-4o-mini",
                        "messages": [{"role": "user", "content": f"hello {i}"}],
                        "stream": i % 2 == 1,
                        **({"stream_options": {"include_usage": True}} if i % 2 else {}),
                    },
                    headers={
                        "Authorization": "Bearer sk-test",
                        "X-Lightkeeper-App": "proxy-test",
                        "X-Lightkeeper-User": "alice",
                    },
                )
                assert resp.status == 200
                await resp.read()
        await runtime.wait_idle(30)
    finally:
        await runtime.stop()
        await fake_runner.cleanup()
    rows = store_client.query(
        "SELECT count(), countIf(cost_usd > 0), countIf(cost_unknown_model = 1), uniqExact(user_id), "
        "any(app) "
        f"FROM {store_database}.events_dedup"
    ).result_rows
    assert rows == [(5, 5, 0, 1, "proxy-test")]
