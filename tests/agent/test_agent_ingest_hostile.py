"""Hostile and unusual ingest bodies: gzip (valid and not), times the store cannot keep, lone
UTF-16 surrogates, a missing start_time. Each gets a precise answer; nothing accepted is lost."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson

from lightkeeper.schemas.codec import decode_event


def _export_gzip_spans(endpoint: str) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    exporter = OTLPSpanExporter(endpoint=endpoint, compression=Compression.Gzip, timeout=5)
    provider = TracerProvider(resource=Resource.create({"service.name": "gz-app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.request.stream": True,
                "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"content": "gz?"}]}]),
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"content": "yes"}]}]),
            }
        )
    provider.shutdown()


async def test_gzip_otlp_from_the_real_exporter_is_accepted(agent_factory: Any) -> None:
    agent = await agent_factory()
    await asyncio.to_thread(_export_gzip_spans, agent.url + "/v1/traces")
    ((_, value),) = await agent.sink.wait_for(1)
    ev = decode_event(value)
    assert ev.app == "gz-app" and ev.input_messages[0].content == "gz?" and ev.output.text == "yes"
    assert ev.streaming is True  # gen_ai.request.stream


async def test_invalid_gzip_is_a_clear_400_and_the_agent_keeps_serving(agent_factory: Any) -> None:
    agent = await agent_factory()
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as s:
        for path in ("/v1/events", "/v1/traces", "/v1/logs", "/v1/context"):
            async with s.post(agent.url + path, data=b"this is not gzip", headers=headers) as r:
                text = await r.text()
                assert r.status == 400, (path, r.status, text)
                assert "not valid gzip" in text, text
        async with s.post(agent.url + "/v1/events", data=b"[]", headers={"Content-Encoding": "snappy"}) as r:
            assert r.status == 415 and "snappy" in await r.text()
        async with s.post(
            agent.url + "/v1/events", data=gzip.compress(b'[{"app": "after"}]'), headers=headers
        ) as r:
            assert r.status == 200, await r.text()
    ((_, value),) = await agent.sink.wait_for(1)
    assert decode_event(value).app == "after"


async def test_gzip_chat_request_is_forwarded_decoded_without_its_encoding_header(
    agent_factory: Any, fake_llm: Any
) -> None:
    agent = await agent_factory()
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "zipped hello"}]}
    async with aiohttp.ClientSession() as s:
        async with s.post(
            agent.url + "/v1/chat/completions",
            data=gzip.compress(orjson.dumps(body)),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        ) as r:
            assert r.status == 200, await r.text()
        async with s.post(
            agent.url + "/v1/chat/completions",
            data=b"not gzip",
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        ) as r:
            assert r.status == 400 and "invalid_request_body" in await r.text()
    got = fake_llm.fake.received[-1]
    assert not any(k.lower() == "content-encoding" for k in got.headers), got.headers
    assert orjson.loads(got.body) == body
    ((_, value),) = await agent.sink.wait_for(1)
    assert decode_event(value).input_messages[0].content == "zipped hello"


async def test_times_the_store_cannot_keep_are_rejected_with_a_reason(agent_factory: Any) -> None:
    agent = await agent_factory()
    recent = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    batch = [
        {"app": "ok", "event_id": "ok-1", "start_time": recent},
        {"app": "old", "event_id": "old-1", "start_time": "1970-01-02T00:00:00Z"},
        {"app": "far", "event_id": "far-1", "start_time": "2400-01-01T00:00:00Z"},
        {"app": "pre", "event_id": "pre-1", "start_time": "1960-01-01T00:00:00Z"},
        {"app": "end", "event_id": "end-1", "start_time": recent, "end_time": "2400-01-01T00:00:00Z"},
    ]
    async with aiohttp.ClientSession() as s, s.post(agent.url + "/v1/events", json=batch) as r:
        assert r.status == 207
        answer = await r.json()
    assert answer["accepted"] == 1 and answer["rejected"] == 4
    errors = {e["event_id"]: e["problems"][0] for e in answer["errors"]}
    assert (
        errors["old-1"]["field"] == "start_time"
        and "older than the store keeps" in errors["old-1"]["message"]
    )
    assert "events_ttl_days=90" in errors["old-1"]["message"]
    for event_id, field in (("far-1", "start_time"), ("pre-1", "start_time"), ("end-1", "end_time")):
        assert errors[event_id]["field"] == field
        assert "outside the range the store can keep" in errors[event_id]["message"]
    records = await agent.sink.wait_for(1)
    assert [decode_event(v).event_id for _, v in records] == ["ok-1"]


async def test_lone_surrogate_is_replaced_and_recorded_not_the_whole_batch_rejected(
    agent_factory: Any,
) -> None:
    agent = await agent_factory()
    # what Python's json.dumps writes for a string holding a lone surrogate
    body = json.dumps(
        [
            {"app": "a", "event_id": "s-1", "output": {"text": "bad \ud800 char"}, "tags": {"k\udc00": "v"}},
            {"app": "b", "event_id": "s-2", "output": {"text": "fine \U0001f600"}},
            {"app": "c", "event_id": "s-3", "usage": {"input_tokens": -1}},
        ]
    )
    assert "\\ud800" in body
    async with aiohttp.ClientSession() as s, s.post(agent.url + "/v1/events", data=body) as r:
        assert r.status == 207, await r.text()
        answer = await r.json()
    assert answer["accepted"] == 2 and [e["index"] for e in answer["errors"]] == [2]
    records = await agent.sink.wait_for(2)
    events = {e.event_id: e for e in (decode_event(v) for _, v in records)}
    repaired = events["s-1"]
    assert repaired.output.text == "bad \ufffd char" and repaired.tags == {"k\ufffd": "v"}
    assert repaired.metadata["capture_problems"] == [
        "lone UTF-16 surrogate replaced by U+FFFD in output.text",
        "lone UTF-16 surrogate replaced by U+FFFD in tags.<key>",
    ]
    assert events["s-2"].output.text == "fine \U0001f600" and "capture_problems" not in events["s-2"].metadata


async def test_not_json_with_a_surrogate_is_still_a_400(agent_factory: Any) -> None:
    agent = await agent_factory()
    async with aiohttp.ClientSession() as s:
        for data in (
            b'[{"app": "\\ud800"}',
            b'[{"app": "\\ud800", "n": NaN}]',
            b'[{"app": "\\ud800", "n": 1e999}]',
        ):
            async with s.post(agent.url + "/v1/events", data=data) as r:
                assert r.status == 400, data
                assert (await r.json())["errors"][0]["problems"][0]["message"].startswith("not JSON")


async def test_missing_start_time_is_named(agent_factory: Any) -> None:
    agent = await agent_factory()
    item = {"app": "x", "event_id": "m-1", "end_time": datetime.now(UTC).isoformat()}
    async with aiohttp.ClientSession() as s, s.post(agent.url + "/v1/events", json=[item]) as r:
        assert r.status == 400
        (error,) = (await r.json())["errors"]
    message = error["problems"][0]["message"]
    assert "start_time is missing" in message and "before" not in message


async def test_otlp_span_before_the_retention_is_rejected_in_partial_success(agent_factory: Any) -> None:
    agent = await agent_factory()
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "chat",
        "startTimeUnixNano": "86400000000000",  # 1970-01-02
        "endTimeUnixNano": "86401000000000",
        "attributes": [{"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}}],
    }
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/v1/traces", data=orjson.dumps(doc), headers={"Content-Type": "application/json"}
        ) as r,
    ):
        assert r.status == 200
        answer = await r.json()
    assert answer["partialSuccess"]["rejectedSpans"] == "1"
    assert "older than the store keeps events" in answer["partialSuccess"]["errorMessage"]
    await asyncio.sleep(0.2)
    assert agent.sink.records == []
