"""Bad input, property-based (hypothesis): the ingest API, the OTLP receiver, the worker's event
decoding and upstream responses through the proxy. Every input gets a clear answer (2xx/4xx
with a reason, or a dead letter with a reason): no 5xx from the agent itself, no exception, no
hang, bounded memory."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightkeeper.processors.pipeline import Pipeline, RawEvent
from lightkeeper.schemas.events import LLMCallEvent

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
    max_leaves=20,
)
VALID = orjson.loads(
    LLMCallEvent.model_validate(
        {
            "app": "shop",
            "provider_name": "openai",
            "request_model": "gpt-4o-mini",
            "start_time": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),  # inside the retention
            "usage": {"input_tokens": 10, "output_tokens": 5},
            "input_messages": [{"role": "user", "content": "hello"}],
            "output": {"text": "hi"},
        }
    ).model_dump_json()
)
FIELDS = sorted(VALID)


@st.composite
def mutated_event(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with some fields replaced by arbitrary JSON or removed."""
    data = dict(VALID)
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        if draw(st.booleans()):
            data[name] = draw(json_values)
        else:
            data.pop(name, None)
    return data


raw_inputs = st.one_of(
    st.binary(max_size=300),
    json_values.map(orjson.dumps),
    mutated_event().map(orjson.dumps),
    st.binary(min_size=1, max_size=8).map(lambda b: orjson.dumps(VALID)[:-1] + b"," + b + b"}"),
    st.integers(1, 2_000_000).map(lambda n: orjson.dumps({**VALID, "app": "x" * n})),
)


@FUZZ
@given(values=st.lists(raw_inputs, min_size=1, max_size=5))
def test_worker_decoding_never_raises(values: list[bytes]) -> None:
    batch = Pipeline().process([RawEvent(v, None, "t", 0, i) for i, v in enumerate(values)])
    assert len(batch.events) + len(batch.dead) == len(values)
    assert all(d.reason and d.stage in ("decode", "row") for d in batch.dead)
    assert len(batch.rows["events"]) == len(batch.events)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_worker_decoding_memory_is_bounded() -> None:
    pipeline = Pipeline()
    junk = [b"\xff\xfe" * 5000, orjson.dumps({**VALID, "usage": "x" * 100_000}), b"{" * 10_000, b"[]"]
    for _ in range(200):  # warm-up
        pipeline.process([RawEvent(v) for v in junk])
    before = _rss_mib()
    for _ in range(3000):
        batch = pipeline.process([RawEvent(v) for v in junk])
        assert len(batch.dead) == len(junk)
    growth = _rss_mib() - before
    print(f"RSS growth after 12000 bad inputs: {growth:.1f} MiB")
    assert growth < 30


@pytest.fixture
async def agent(agent_factory: Any) -> Any:
    return await agent_factory(ingest_token="ingest-tok-123")


AUTH = {"Authorization": "Bearer ingest-tok-123"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        yield s


@FUZZ
@given(
    payload=st.one_of(
        json_values,
        st.lists(mutated_event(), max_size=4),
        st.builds(lambda e: {"events": e}, st.lists(mutated_event(), max_size=3)),
    )
)
async def test_ingest_answers_every_payload(agent: Any, http: aiohttp.ClientSession, payload: Any) -> None:
    before = len(agent.sink.records)
    async with http.post(agent.url + "/v1/events", data=orjson.dumps(payload), headers=AUTH) as r:
        body = await r.read()
        assert r.status in (200, 207, 400, 413), (r.status, body[:300])
    accepted = len(agent.sink.records) - before
    if r.status == 400:
        assert accepted == 0 and body
    answer = orjson.loads(body) if r.status != 413 else {}
    if r.status in (207, 400):
        assert answer["errors"], answer  # every refusal names its reason
        for item in answer["errors"]:
            assert item["problems"] and all(p["message"] for p in item["problems"])
    if r.status in (200, 207):
        assert answer["accepted"] == accepted


@FUZZ
@given(
    body=st.binary(max_size=2000),
    kind=st.sampled_from(["application/x-protobuf", "application/json", "text/plain"]),
    gz=st.booleans(),
    path=st.sampled_from(["/v1/traces", "/v1/logs"]),
)
async def test_otlp_answers_every_body(
    agent: Any, http: aiohttp.ClientSession, body: bytes, kind: str, gz: bool, path: str
) -> None:
    headers = {**AUTH, "Content-Type": kind, **({"Content-Encoding": "gzip"} if gz else {})}
    data = gzip.compress(body) if gz and body[:1] != b"x" else body  # sometimes not really gzip
    async with http.post(agent.url + path, data=data, headers=headers) as r:
        text = await r.text()
        assert r.status in (200, 400, 415), (r.status, text[:300])


async def test_tokens_are_enforced(agent: Any, http: aiohttp.ClientSession) -> None:
    for path in ("/v1/events", "/v1/traces", "/v1/logs", "/v1/context"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "ingest-tok-123"}):
            async with http.post(agent.url + path, data=b"[]", headers=headers) as r:
                assert r.status in (401, 403), (path, headers, r.status)
    assert agent.sink.records == []


class Upstream:
    """An upstream answering whatever body/status/content type the test sets."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.ctype = "application/json"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        if self.ctype == "text/event-stream":
            resp = web.StreamResponse(status=self.status, headers={"Content-Type": self.ctype})
            await resp.prepare(request)
            for i in range(0, len(self.body), 997):
                await resp.write(self.body[i : i + 997])
            await resp.write_eof()
            return resp
        return web.Response(status=self.status, body=self.body, content_type=self.ctype)


@pytest.fixture
async def odd_upstream() -> AsyncIterator[tuple[Upstream, str]]:
    up = Upstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", up.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield up, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def odd_agent(agent_factory: Any, odd_upstream: tuple[Upstream, str]) -> tuple[Upstream, Any]:
    up, url = odd_upstream
    return up, await agent_factory(openai_base_url=url)


sse_lines = st.lists(
    st.one_of(
        st.binary(max_size=80).map(lambda b: b"data: " + b + b"\n\n"),
        json_values.map(lambda v: b"data: " + orjson.dumps(v) + b"\n\n"),
        st.just(b'data: {"choices":[{"delta":{"content":"\xff\xfe"}}]}\n\n'),
        st.just(b"data: [DONE]\n\n"),
        st.binary(max_size=40),
    ),
    max_size=12,
).map(b"".join)


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=500), json_values.map(orjson.dumps), sse_lines, st.just(b"\xc3\x28" * 1000)
    ),
    status=st.sampled_from([200, 200, 400, 429, 500, 503]),
    ctype=st.sampled_from(["application/json", "text/event-stream", "text/plain"]),
)
async def test_proxy_passes_any_upstream_response_unchanged(
    odd_agent: tuple[Upstream, Any], http: aiohttp.ClientSession, body: bytes, status: int, ctype: str
) -> None:
    up, agent = odd_agent
    up.body, up.status, up.ctype = body, status, ctype
    req = {
        "model": "gpt-4o-mini",
        "stream": ctype == "text/event-stream",
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with http.post(agent.url + "/v1/chat/completions", json=req) as r:
        got = await r.read()
        assert (r.status, got) == (status, body)
    await asyncio.sleep(0)


async def test_proxy_huge_upstream_body_is_passed_and_capture_is_bounded(
    agent_factory: Any, odd_upstream: tuple[Upstream, str], http: aiohttp.ClientSession
) -> None:
    up, url = odd_upstream
    agent = await agent_factory(openai_base_url=url, max_body_bytes=64 * 1024)
    text = "word " * 2_000_000  # 10 MB answer
    up.body = orjson.dumps(
        {"choices": [{"message": {"role": "assistant", "content": text}}], "model": "gpt-4o-mini"}
    )
    async with http.post(
        agent.url + "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": []}
    ) as r:
        assert r.status == 200 and await r.read() == up.body
    records = await agent.sink.wait_for(1, 10)
    assert len(records[-1][1]) < 512 * 1024
    assert orjson.loads(records[-1][1])["truncated"] is True


async def test_poison_ingest_under_load_loses_nothing(
    tmp_path: Any, store_client: Any, store_database: str
) -> None:
    from _support.chaos_poison import poison_ingest

    result = await poison_ingest(tmp_path, store_client, store_database, batches=6, calls=60, rate=20)
    print(result.note)
    assert result.ok, result
    assert "24 accepted = 18 stored + 6 dead-lettered" in result.note, result.note
    assert "30 refused with a reason" in result.note and "6 invalid gzip bodies -> 400" in result.note
