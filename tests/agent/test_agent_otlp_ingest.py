"""OTLP/HTTP receiver (real opentelemetry-sdk exporter as the client) and direct ingest."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import orjson

from lightkeeper.schemas.codec import decode_event


def _export_spans(endpoint: str, token: str | None = None) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import Status, StatusCode

    headers = {"Authorization": f"Bearer {token}"} if token else None
    exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=5)
    provider = TracerProvider(resource=Resource.create({"service.name": "rag-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    # OpenLLMetry style
    with tracer.start_as_current_span("openai.chat") as span:
        span.set_attributes(
            {
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024",
                "gen_ai.request.temperature": 0.3,
                "gen_ai.usage.prompt_tokens": 21,
                "gen_ai.usage.completion_tokens": 9,
                "gen_ai.prompt.0.role": "system",
                "gen_ai.prompt.0.content": "Be nice",
                "gen_ai.prompt.1.role": "user",
                "gen_ai.prompt.1.content": "Hi, I'm jane@example.com",
                "gen_ai.completion.0.role": "assistant",
                "gen_ai.completion.0.content": "Hello Jane!",
                "gen_ai.completion.0.finish_reason": "stop",
                "user.id": "u-9",
            }
        )
    # current semconv with JSON messages, and an error status
    with tracer.start_as_current_span("chat claude") as span:
        span.set_attributes(
            {
                "gen_ai.provider.name": "anthropic",
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "claude-sonnet",
                "gen_ai.usage.input_tokens": 50,
                "gen_ai.usage.output_tokens": 0,
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": "Q?"}]}]
                ),
                "gen_ai.output.messages": json.dumps([]),
                "error.type": "overloaded_error",
            }
        )
        span.set_status(Status(StatusCode.ERROR, "overloaded"))
    # not a GenAI span: ignored
    with tracer.start_as_current_span("http GET /"):
        pass
    provider.shutdown()


async def test_otlp_protobuf_from_real_sdk_exporter(agent_factory):
    agent = await agent_factory()
    await asyncio.to_thread(_export_spans, agent.url + "/v1/traces")
    records = await agent.sink.wait_for(2)
    assert len(records) == 2
    evs = sorted((decode_event(v) for _, v in records), key=lambda e: e.provider_name, reverse=True)
    ev = evs[0]
    assert ev.source == "otlp" and ev.app == "rag-bot" and ev.provider_name == "openai"
    assert ev.request_model == "gpt-4o-mini" and ev.response_model == "gpt-4o-mini-2024"
    assert ev.usage.input_tokens == 21 and ev.usage.output_tokens == 9 and ev.request.temperature == 0.3
    assert [(m.role, m.content) for m in ev.input_messages] == [
        ("system", "Be nice"),
        ("user", "Hi, I'm <EMAIL>"),
    ]
    assert ev.output.text == "Hello Jane!" and ev.finish_reasons == ["stop"] and ev.user_id == "u-9"
    assert ev.trace_id and len(ev.trace_id) == 32 and ev.span_id and len(ev.span_id) == 16
    assert ev.duration_ms is not None and ev.duration_ms >= 0
    err = evs[1]
    assert err.provider_name == "anthropic" and err.error_type == "overloaded_error"
    assert err.error_message == "overloaded" and err.input_messages[0].content == "Q?"
    async with aiohttp.ClientSession() as s:
        metrics = await (await s.get(agent.url + "/metrics")).text()
    assert 'lightkeeper_agent_otlp_spans_total{outcome="ignored"} 1.0' in metrics
    assert 'lightkeeper_agent_otlp_spans_total{outcome="converted"} 2.0' in metrics


async def test_otlp_json_and_span_events(agent_factory):
    agent = await agent_factory()
    start_ns = (time.time_ns() // 10**9 - 60) * 10**9  # recent: older spans are past the store's TTL
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "chat",
                                "startTimeUnixNano": str(start_ns),
                                "endTimeUnixNano": str(start_ns + 1_500_000_000),
                                "attributes": [
                                    {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
                                ],
                                "events": [
                                    {
                                        "name": "gen_ai.user.message",
                                        "attributes": [
                                            {"key": "content", "value": {"stringValue": "What is RAG?"}}
                                        ],
                                    },
                                    {
                                        "name": "gen_ai.choice",
                                        "attributes": [
                                            {
                                                "key": "message",
                                                "value": {"stringValue": '{"content": "Retrieval."}'},
                                            }
                                        ],
                                    },
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    async with aiohttp.ClientSession() as s:
        async with s.post(
            agent.url + "/v1/traces", data=orjson.dumps(doc), headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 200
            assert r.content_type == "application/json"
        async with s.post(
            agent.url + "/v1/traces", data=b"garbage", headers={"Content-Type": "application/x-protobuf"}
        ) as r:
            assert r.status == 400
    ((_, value),) = await agent.sink.wait_for(1)
    ev = decode_event(value)
    assert ev.trace_id == "5b8efff798038103d269b633813fc60c" and ev.span_id == "eee19b7ec3c1b174"
    assert ev.input_messages[0].content == "What is RAG?" and ev.output.text == "Retrieval."
    assert ev.usage.input_tokens == 12 and ev.duration_ms == 1500.0 and ev.app == "svc"


async def test_otlp_and_ingest_require_token_when_configured(agent_factory):
    agent = await agent_factory(ingest_token="t0ken-123")
    async with aiohttp.ClientSession() as s:
        async with s.post(agent.url + "/v1/events", json=[]) as r:
            assert r.status == 401
        async with s.post(
            agent.url + "/v1/events", json=[{"app": "a"}], headers={"Authorization": "Bearer t0ken-123"}
        ) as r:
            assert r.status == 200
    await asyncio.to_thread(_export_spans, agent.url + "/v1/traces", "t0ken-123")
    records = await agent.sink.wait_for(3)
    assert len(records) == 3


async def test_ingest_rejects_invalid_items_keeps_valid(agent_factory):
    agent = await agent_factory()
    batch = [
        {
            "app": "billing",
            "request_model": "gpt-4o",
            "usage": {"input_tokens": 10, "output_tokens": 3},
            "input_messages": [{"role": "user", "content": "hello"}],
            "output": {"text": "hi"},
        },
        {"app": "billing", "usage": {"input_tokens": -5}},
        "not an object",
        {
            "app": "billing",
            "event_id": "e-3",
            "start_time": "2026-01-01T00:00:00Z",
            "end_time": "2025-01-01T00:00:00Z",
        },
        {"app": "search", "event_id": "e-4", "provider_name": "anthropic"},
    ]
    async with aiohttp.ClientSession() as s:
        async with s.post(agent.url + "/v1/events", json=batch) as r:
            assert r.status == 207
            body = await r.json()
        async with s.post(agent.url + "/v1/events", json=[{"usage": {"input_tokens": "many"}}]) as r:
            assert r.status == 400
            all_bad = await r.json()
        async with s.post(agent.url + "/v1/events", data=b"{nope") as r:
            assert r.status == 400
    assert body["accepted"] == 2 and body["rejected"] == 3
    errors = {e["index"]: e for e in body["errors"]}
    assert set(errors) == {1, 2, 3}
    assert errors[1]["problems"][0]["field"] == "usage.input_tokens"
    assert errors[3]["event_id"] == "e-3" and "end_time" in errors[3]["problems"][0]["message"]
    assert all_bad["rejected"] == 1 and all_bad["accepted"] == 0
    records = await agent.sink.wait_for(2)
    evs = [decode_event(v) for _, v in records]
    assert [e.app for e in evs] == ["billing", "search"] and evs[1].event_id == "e-4"
    assert all(e.source == "ingest" for e in evs)
    assert evs[0].usage.input_tokens == 10 and evs[0].output.text == "hi"


async def test_ingest_large_batch_reports_absolute_indexes(agent_factory):
    agent = await agent_factory()
    batch = [{"app": "bulk", "tags": {"i": str(i)}} for i in range(250)]
    batch[123] = {"app": ""}  # too short
    batch[249] = {"duration_ms": -1}
    async with aiohttp.ClientSession() as s, s.post(agent.url + "/v1/events", json=batch) as r:
        assert r.status == 207
        body = await r.json()
    assert [e["index"] for e in body["errors"]] == [123, 249] and body["accepted"] == 248
    records = await agent.sink.wait_for(248)
    assert len(records) == 248
