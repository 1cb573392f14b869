"""Limits of the read-only SQL endpoint: every query runs under engine limits it cannot raise,
results are capped in bytes, and a slow query holds up neither other queries, nor ingestion,
nor the runtime's stop."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pyarrow.parquet as pq
import pytest

from lightkeeper.agent.settings import AgentSettings
from lightkeeper.processors.settings import WorkerSettings
from lightkeeper.runtime import EmbeddedRuntime
from lightkeeper.runtime.query_endpoint import QueryEndpoint
from tests.worker.helpers import raw

RUNAWAY = "SELECT count() FROM numbers(1e12)"


async def _post(port: int, token: str, body: dict[str, Any], timeout_s: float = 60) -> tuple[int, bytes, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http,
        http.post(
            f"http://127.0.0.1:{port}/v1/sql",
            data=orjson.dumps(body),
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        return resp.status, await resp.read(), resp.headers


@pytest.fixture
async def endpoint(tmp_path: Path, store_url: str, store_database: str) -> AsyncIterator[QueryEndpoint]:
    ep = QueryEndpoint(store_url, store_database, tmp_path, max_execution_s=2, max_result_bytes=1_000_000)
    await ep.start()
    try:
        yield ep
    finally:
        await ep.stop()


async def test_a_runaway_query_is_stopped_at_the_time_limit(endpoint: QueryEndpoint) -> None:
    assert endpoint.port is not None
    started = time.monotonic()
    status, body, _ = await _post(endpoint.port, endpoint.token, {"query": RUNAWAY}, timeout_s=30)
    elapsed = time.monotonic() - started
    assert status == 400 and "TIMEOUT_EXCEEDED" in orjson.loads(body)["error"], body
    assert 1.5 < elapsed < 10, elapsed


@pytest.mark.parametrize(
    "settings",
    [
        "max_execution_time = 0",
        "max_execution_time = 3600, timeout_overflow_mode = 'break'",
        "max_result_rows = 0, max_result_bytes = 0",
        "result_overflow_mode = 'throw'",
        "readonly = 0",
        "max_threads = 64",
    ],
)
async def test_a_query_cannot_raise_its_limits(endpoint: QueryEndpoint, settings: str) -> None:
    assert endpoint.port is not None
    started = time.monotonic()
    status, body, _ = await _post(
        endpoint.port, endpoint.token, {"query": f"{RUNAWAY} SETTINGS {settings}"}, timeout_s=30
    )
    assert status in (400, 403) and time.monotonic() - started < 10, body
    assert "readonly" in orjson.loads(body)["error"].lower() or "SETTINGS" in orjson.loads(body)["error"]


@pytest.mark.parametrize("fmt", ["json", "csv", "table", "parquet"])
async def test_results_are_capped_in_bytes(endpoint: QueryEndpoint, fmt: str) -> None:
    """200 000 rows of 1 KB would be ~200 MB: the answer stops at the 1 MB cap, marked truncated."""
    assert endpoint.port is not None
    query = "SELECT number AS n, repeat('x', 1000) AS s FROM numbers(200000)"
    status, body, headers = await _post(endpoint.port, endpoint.token, {"query": query, "format": fmt})
    assert status == 200, body[:300]
    assert headers["X-Lightkeeper-Truncated"] == "1"
    rows = int(headers["X-Lightkeeper-Rows"])
    assert 100 < rows < (20_000 if fmt == "table" else 1100), rows  # table cells are cut at max_width
    assert len(body) <= 1_000_000, len(body)
    if fmt == "json":
        assert [r["n"] for r in orjson.loads(body)] == list(range(rows))
    elif fmt == "csv":
        assert len(body.decode().splitlines()) == rows + 1
    elif fmt == "parquet":
        assert pq.read_table(io.BytesIO(body)).num_rows == rows
    else:
        assert body.decode().rstrip().endswith(f"({rows} rows)")


@pytest.fixture
async def runtime(
    tmp_path: Path, store_url: str, store_database: str, store_client: Any
) -> AsyncIterator[EmbeddedRuntime]:
    agent = AgentSettings(
        host="127.0.0.1",
        port=0,
        openai_base_url="http://127.0.0.1:9",
        anthropic_base_url="http://127.0.0.1:9",
        ensure_topics=False,
        publish_enabled=False,
        data_dir=tmp_path,
    )
    worker = WorkerSettings(
        data_dir=tmp_path, store={"url": store_url, "database": store_database}, batch_within_s=0.1, stages=[]
    )
    rt = EmbeddedRuntime(agent, worker, client=store_client, stages=[])
    await rt.start()
    try:
        yield rt
    finally:
        await rt.stop()


async def test_a_slow_query_blocks_neither_queries_nor_ingestion_nor_stop(
    runtime: EmbeddedRuntime, store_client: Any, store_database: str
) -> None:
    endpoint = runtime.query_endpoint
    assert endpoint is not None and endpoint.port is not None
    slow = asyncio.create_task(_post(endpoint.port, endpoint.token, {"query": RUNAWAY}, timeout_s=120))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        running = store_client.query(
            "SELECT count() FROM system.processes WHERE query LIKE '%numbers(1e12)%' "
            "AND query NOT LIKE '%system.processes%'"
        ).result_rows[0][0]
        if running:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the slow query never started")

    # other queries answer meanwhile
    started = time.monotonic()
    status, body, _ = await _post(endpoint.port, endpoint.token, {"query": "SELECT 1 AS one"}, timeout_s=30)
    assert status == 200 and orjson.loads(body) == [{"one": 1}]
    assert time.monotonic() - started < 5, time.monotonic() - started

    # ingestion proceeds meanwhile
    for i in range(5):
        runtime.queue.submit(None, raw(i, app="during-slow-query"))
    await runtime.wait_idle(20)
    stored = store_client.query(
        f"SELECT count() FROM {store_database}.events_dedup WHERE app = 'during-slow-query'"
    ).result_rows[0][0]
    assert stored == 5
    assert not slow.done()

    # stopping does not wait for the slow query
    started = time.monotonic()
    await runtime.stop()
    assert time.monotonic() - started < 10, time.monotonic() - started
    outcome = await asyncio.wait_for(asyncio.gather(slow, return_exceptions=True), 10)
    assert not (isinstance(outcome[0], tuple) and outcome[0][0] == 200), outcome
