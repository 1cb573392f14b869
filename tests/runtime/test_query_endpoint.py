"""The read-only SQL endpoint of the embedded runtime, in-process on the session store.

(The real locked-store scenario, `lightkeeper up` and `lightkeeper sql` as two processes, is in
test_sql_through_up.py.)"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pyarrow.parquet as pq
import pytest

from lightkeeper.agent.settings import AgentSettings
from lightkeeper.cli.main import main
from lightkeeper.errors import StoreError, StoreUnavailable
from lightkeeper.processors.settings import WorkerSettings
from lightkeeper.runtime import EmbeddedRuntime
from lightkeeper.runtime.query_endpoint import (
    RUNTIME_FILE,
    QueryEndpoint,
    find_runtime,
    query_runtime,
    read_runtime_file,
)
from lightkeeper.store.query import format_table, run_query
from tests.worker.helpers import raw

INJECTION = "x' OR 1=1 --"


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
        for i in range(20):
            rt.queue.submit(None, raw(i, app="shop" if i < 17 else INJECTION))
        await rt.wait_idle(30)
        yield rt
    finally:
        await rt.stop()


async def _post(rt: EmbeddedRuntime, body: Any, token: str | None) -> tuple[int, bytes, dict[str, str]]:
    endpoint = rt.query_endpoint
    assert endpoint is not None
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{endpoint.port}/v1/sql"
        async with http.post(url, data=orjson.dumps(body), headers=headers) as resp:
            return resp.status, await resp.read(), dict(resp.headers)


async def test_runtime_file_and_authenticated_queries(
    runtime: EmbeddedRuntime, tmp_path: Path, store_url: str
) -> None:
    endpoint = runtime.query_endpoint
    assert endpoint is not None
    path = tmp_path / RUNTIME_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    info = read_runtime_file(path)
    assert info is not None and (info.port, info.token, info.pid) == (
        endpoint.port,
        endpoint.token,
        os.getpid(),
    )
    assert find_runtime(store_url, tmp_path) == info

    status, body, headers = await _post(
        runtime,
        {"query": "SELECT app, count() AS n FROM events_dedup GROUP BY app ORDER BY app"},
        endpoint.token,
    )
    assert status == 200, body
    assert orjson.loads(body) == [{"app": "shop", "n": 17}, {"app": INJECTION, "n": 3}]
    assert headers["X-Lightkeeper-Rows"] == "2" and headers["X-Lightkeeper-Truncated"] == "0"


async def test_token_is_enforced(runtime: EmbeddedRuntime) -> None:
    query = {"query": "SELECT count() FROM events_dedup"}
    for token in (None, "", "wrong", runtime.query_endpoint.token + "x"):  # type: ignore[union-attr]
        status, body, headers = await _post(runtime, query, token)
        assert status == 401, (token, body)
        assert orjson.loads(body)["kind"] == "unauthorized" and "Bearer" in headers["WWW-Authenticate"]
    assert runtime.query_endpoint.queries == 0  # type: ignore[union-attr]


async def test_writes_are_refused_twice(
    runtime: EmbeddedRuntime, store_client: Any, store_database: str
) -> None:
    token = runtime.query_endpoint.token  # type: ignore[union-attr]
    for query in (
        "DROP TABLE events",
        "INSERT INTO events (event_id) VALUES ('x')",
        "SELECT 1; DROP TABLE events",
        "SELECT * FROM events INTO OUTFILE 'x.csv'",
        "SELECT file('/etc/passwd')",
    ):
        status, body, _ = await _post(runtime, {"query": query}, token)
        assert status == 403 and orjson.loads(body)["kind"] == "refused", (query, body)
    # passes the lexical gate, refused by the readonly=2 session
    status, body, _ = await _post(runtime, {"query": "SELECT 1 SETTINGS readonly = 0"}, token)
    assert status == 400 and "readonly" in orjson.loads(body)["error"].lower(), body
    count = store_client.query(f"SELECT count() FROM {store_database}.events_dedup").result_rows[0][0]
    assert count == 20
    # the runtime's shared client is not read-only
    store_client.command(f"CREATE TABLE {store_database}.scratch (x UInt8) ENGINE = Memory")


async def test_user_labels_are_parameters_not_sql(runtime: EmbeddedRuntime) -> None:
    token = runtime.query_endpoint.token  # type: ignore[union-attr]
    query = "SELECT count() AS n FROM events_dedup WHERE app = {app:String}"
    status, body, _ = await _post(runtime, {"query": query, "parameters": {"app": INJECTION}}, token)
    assert status == 200 and orjson.loads(body) == [{"n": 3}]
    status, body, _ = await _post(
        runtime, {"query": query, "parameters": {"app": "nobody' OR 1=1 --"}}, token
    )
    assert status == 200 and orjson.loads(body) == [{"n": 0}]


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"query": ""},
        {"query": "SELECT 1", "format": "xml"},
        {"query": "SELECT 1", "parameters": {"a-b": 1}},
        {"query": "SELECT 1", "parameters": {"a": {"nested": 1}}},
        {"query": "SELECT 1", "database": "x; DROP"},
        {"query": "SELECT 1", "extra": 1},
    ],
)
async def test_bad_requests_get_400(runtime: EmbeddedRuntime, body: Any) -> None:
    status, answer, _ = await _post(runtime, body, runtime.query_endpoint.token)  # type: ignore[union-attr]
    assert status == 400 and orjson.loads(answer)["kind"] == "bad_request", answer


async def test_client_formats_match_local_sql(runtime: EmbeddedRuntime, store_client: Any) -> None:
    info = find_runtime(runtime.worker_settings.store_url, runtime.data_dir)
    assert info is not None
    query = "SELECT app, count() AS n, sum(cost_usd) AS usd FROM events_dedup GROUP BY app ORDER BY app"
    body, rows, truncated = await _in_thread(query_runtime, info, query, fmt="table")
    assert (rows, truncated) == (2, False)
    assert body.decode() == format_table(run_query(store_client, query)) + "\n"
    body, _, _ = await _in_thread(query_runtime, info, query, fmt="csv")
    assert body.decode().splitlines()[1] == "shop,17,0.004080000"
    body, rows, _ = await _in_thread(query_runtime, info, "SELECT event_id FROM events_dedup", fmt="parquet")
    assert rows == 20 and pq.read_table(io.BytesIO(body)).num_rows == 20
    with pytest.raises(StoreError, match="not allowed"):
        await _in_thread(query_runtime, info, "DROP TABLE events")
    with pytest.raises(StoreError, match=r"UNKNOWN_TABLE|doesn't exist|does not exist"):
        await _in_thread(query_runtime, info, "SELECT * FROM no_such_table")


async def test_results_are_cut_at_max_rows(
    tmp_path: Path, store_url: str, store_database: str, store_client: Any
) -> None:
    endpoint = QueryEndpoint(store_url, store_database, tmp_path, max_rows=5)
    await endpoint.start()
    try:
        info = read_runtime_file(tmp_path / RUNTIME_FILE)
        assert info is not None
        body, rows, truncated = await _in_thread(query_runtime, info, "SELECT number FROM numbers(100000)")
        assert (rows, truncated) == (5, True) and len(orjson.loads(body)) == 5
    finally:
        await endpoint.stop()
    assert not (tmp_path / RUNTIME_FILE).exists()
    with pytest.raises(StoreUnavailable, match="does not answer"):
        await _in_thread(query_runtime, info, "SELECT 1", timeout_s=5)


async def test_cli_routes_to_the_runtime_when_the_store_is_locked(
    runtime: EmbeddedRuntime,
    store_url: str,
    store_database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    """In one process chdb cannot lock against itself: make opening the store fail like a lock
    does, then `lightkeeper sql` must find runtime.json and go through the endpoint."""
    import lightkeeper.store.client as store_client_module

    info = find_runtime(store_url, runtime.data_dir)
    assert info is not None  # the endpoint opens its read-only session now, before the patch:
    await _in_thread(query_runtime, info, "SELECT 1")

    def locked(*_: Any, **__: Any) -> Any:
        raise StoreUnavailable("cannot open the embedded store: another process probably holds it")

    monkeypatch.setattr(store_client_module, "connect_readonly", locked)
    monkeypatch.setattr("lightkeeper.store.connect", locked)
    args = [
        "sql",
        "SELECT count() AS n FROM events_dedup WHERE app = {app:String}",
        "--param",
        f"app={INJECTION}",
    ]
    args += [
        "--url",
        store_url,
        "--database",
        store_database,
        "--data-dir",
        str(runtime.data_dir),
        "--format",
        "csv",
    ]
    rc = await _in_thread(main, args)
    assert rc == 0 and capsys.readouterr().out == "n\n3\n"
    rc = await _in_thread(main, [*args[:-2], "--write"])
    assert rc == 1 and "only answers read queries" in capsys.readouterr().err


async def _in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(fn, *args, **kwargs)
