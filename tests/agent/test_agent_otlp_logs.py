"""OTLP logs receiver: GenAI content sent as log records joins its span (either order), with the
real OpenTelemetry SDK exporters and the official OpenAI instrumentation as clients."""

from __future__ import annotations

import asyncio
import gzip
import time
from typing import Any

import aiohttp
import orjson
import pytest

from lightkeeper.schemas.codec import decode_event


def _providers(agent_url: str) -> tuple[Any, Any]:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": "genai-app"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=agent_url + "/v1/traces", compression=Compression.Gzip, timeout=5),
            schedule_delay_millis=60_000,
        )
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(
            OTLPLogExporter(endpoint=agent_url + "/v1/logs", compression=Compression.Gzip, timeout=5),
            schedule_delay_millis=60_000,
        )
    )
    return tracer_provider, logger_provider


def _openai_calls(agent_url: str, provider_url: str) -> None:
    import openai
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    tracer_provider, logger_provider = _providers(agent_url)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    try:
        client = openai.OpenAI(base_url=provider_url + "/v1", api_key="sk-test")
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}],
        )
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "stream me"}], stream=True
        )
        for _ in stream:
            pass
    finally:
        instrumentor.uninstrument()
    logger_provider.force_flush()  # content first, spans after
    tracer_provider.force_flush()
    tracer_provider.shutdown()
    logger_provider.shutdown()


async def test_openai_instrumentation_content_from_log_records_joins_its_spans(
    agent_factory: Any, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY")
    agent = await agent_factory()
    await asyncio.to_thread(_openai_calls, agent.url, fake_llm.url)
    records = await agent.sink.wait_for(2)
    events = sorted((decode_event(v) for _, v in records), key=lambda e: len(e.input_messages))
    streamed, plain = events
    assert all(
        e.source == "otlp" and e.app == "genai-app" and e.request_model == "gpt-4o-mini" for e in events
    )
    assert [(m.role, m.content) for m in plain.input_messages] == [
        ("system", "be brief"),
        ("user", "hello there"),
    ]
    assert plain.output.text and plain.usage.input_tokens == 11 and plain.finish_reasons == ["stop"]
    assert [(m.role, m.content) for m in streamed.input_messages] == [("user", "stream me")]
    assert streamed.output.text
    async with aiohttp.ClientSession() as s:
        metrics = await (await s.get(agent.url + "/metrics")).text()
    assert 'lightkeeper_agent_otlp_logs_total{outcome="joined"} 2.0' in metrics
    assert 'lightkeeper_agent_otlp_join_spans_total{outcome="joined"} 2.0' in metrics


def _legacy_events_call(agent_url: str, logs_first: bool) -> None:
    """A call recorded as the per-message GenAI events (content in the log body), exported
    before or after its span."""
    from opentelemetry._logs import LogRecord

    tracer_provider, logger_provider = _providers(agent_url)
    logger = logger_provider.get_logger("genai")
    with tracer_provider.get_tracer("genai").start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                "gen_ai.provider.name": "openai",
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.request.stream": True,
                "gen_ai.usage.input_tokens": 7,
            }
        )
        logger.emit(LogRecord(event_name="gen_ai.system.message", body={"content": "be kind"}))
        logger.emit(
            LogRecord(
                event_name="gen_ai.user.message",
                attributes={"gen_ai.provider.name": "openai"},
                body={"content": "mail me at jane@example.com"},
            )
        )
        logger.emit(
            LogRecord(
                attributes={"event.name": "gen_ai.choice"},  # the name as an attribute (older SDKs)
                body={
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Done."},
                },
            )
        )
    first, second = (logger_provider, tracer_provider) if logs_first else (tracer_provider, logger_provider)
    first.force_flush()
    time.sleep(0.3)
    second.force_flush()
    tracer_provider.shutdown()
    logger_provider.shutdown()


@pytest.mark.parametrize("logs_first", [True, False])
async def test_per_message_events_join_their_span_in_either_order(
    agent_factory: Any, logs_first: bool
) -> None:
    agent = await agent_factory(otlp_join_window_s=5.0)
    await asyncio.to_thread(_legacy_events_call, agent.url, logs_first)
    ((_, value),) = await agent.sink.wait_for(1)
    ev = decode_event(value)
    assert [(m.role, m.content) for m in ev.input_messages] == [
        ("system", "be kind"),
        ("user", "mail me at <EMAIL>"),  # scrubbed like any captured content
    ]
    assert ev.output.text == "Done." and ev.finish_reasons == ["stop"]
    assert ev.streaming is True and ev.usage.input_tokens == 7 and ev.request_model == "gpt-4o"


def _json_logs(trace_id: str, span_id: str) -> bytes:
    record = {
        "traceId": trace_id,
        "spanId": span_id,
        "eventName": "gen_ai.client.inference.operation.details",
        "attributes": [
            {
                "key": "gen_ai.input.messages",
                "value": {"stringValue": '[{"role": "user", "parts": [{"type": "text", "content": "Q"}]}]'},
            },
            {
                "key": "gen_ai.output.messages",
                "value": {
                    "stringValue": '[{"role": "assistant", "parts": [{"type": "text", "content": "A"}]}]'
                },
            },
        ],
    }
    other = {"body": {"stringValue": "an ordinary application log line"}}
    return orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [record, other]}]}]})


def _json_span(trace_id: str, span_id: str) -> bytes:
    start = time.time_ns() - 2 * 10**9
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": "chat",
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 10**9),
        "attributes": [
            {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
            {"key": "gen_ai.response.time_to_first_chunk", "value": {"doubleValue": 0.25}},
        ],
    }
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})


async def test_json_gzip_logs_unmatched_are_counted_and_lone_spans_leave_after_the_window(
    agent_factory: Any,
) -> None:
    agent = await agent_factory(otlp_join_window_s=0.3)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    trace = "5b8efff798038103d269b633813fc60c"
    async with aiohttp.ClientSession() as s:

        async def post(path: str, body: bytes) -> None:
            async with s.post(agent.url + path, data=gzip.compress(body), headers=headers) as r:
                assert r.status == 200, await r.text()
                assert r.content_type == "application/json"

        await post("/v1/logs", _json_logs(trace, "eee19b7ec3c1b174"))
        await post("/v1/traces", _json_span(trace, "eee19b7ec3c1b174"))  # joins the waiting records
        await post("/v1/logs", _json_logs(trace, "0000000000000001"))  # no span ever comes
        await post("/v1/traces", _json_span(trace, "0000000000000002"))  # no records ever come
        records = await agent.sink.wait_for(2)
        await asyncio.sleep(0.6)  # past the window: the waiting records are given up
        metrics = await (await s.get(agent.url + "/metrics")).text()
    events = {e.span_id: e for e in (decode_event(v) for _, v in records)}
    joined, alone = events["eee19b7ec3c1b174"], events["0000000000000002"]
    assert [(m.role, m.content) for m in joined.input_messages] == [
        ("user", "Q")
    ] and joined.output.text == "A"
    assert joined.streaming is True and joined.time_to_first_token_ms == 250.0
    assert alone.input_messages == [] and alone.output.text is None
    assert 'lightkeeper_agent_otlp_logs_total{outcome="joined"} 1.0' in metrics
    assert 'lightkeeper_agent_otlp_logs_total{outcome="unmatched"} 1.0' in metrics
    assert 'lightkeeper_agent_otlp_logs_total{outcome="ignored"} 2.0' in metrics
    assert 'lightkeeper_agent_otlp_join_spans_total{outcome="without_logs"} 1.0' in metrics


async def test_held_spans_are_published_when_the_agent_stops(agent_factory: Any) -> None:
    agent = await agent_factory(otlp_join_window_s=600)
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/v1/traces",
            data=_json_span("5b8efff798038103d269b633813fc60c", "00000000000000aa"),
            headers={"Content-Type": "application/json"},
        ) as r,
    ):
        assert r.status == 200
    await asyncio.sleep(0.1)
    assert agent.sink.records == []  # waiting for its log records
    await agent.stop()
    assert [decode_event(v).span_id for _, v in agent.sink.records] == ["00000000000000aa"]


def test_join_holds_a_bounded_number_and_releases_in_deadline_order() -> None:
    from lightkeeper.agent.metrics import AgentMetrics
    from lightkeeper.agent.otlp_join import GenAIJoin
    from lightkeeper.agent.settings import AgentSettings
    from lightkeeper.schemas.events import LLMCallEvent

    now = [0.0]
    published: list[LLMCallEvent] = []
    metrics = AgentMetrics()
    settings = AgentSettings.load(None, otlp_join_window_s=10.0, otlp_join_max_pending=3)
    join = GenAIJoin(settings, metrics, published.append, clock=lambda: now[0])

    def span(i: int) -> LLMCallEvent:
        return LLMCallEvent(trace_id="t" * 32, span_id=f"{i:016x}")

    record = ("gen_ai.user.message", {}, {"content": "hi"})
    join.add_span(span(1))
    now[0] = 1.0
    join.add_logs(("t" * 32, f"{99:016x}"), [record])  # its span never comes
    now[0] = 2.0
    join.add_span(span(2))
    join.add_span(span(3))  # a fourth entry: the oldest (span 1) leaves now, without content
    assert [e.span_id for e in published] == [f"{1:016x}"] and join.pending == 3
    join.add_logs(("t" * 32, f"{3:016x}"), [record])  # joins span 3 at once
    assert published[-1].span_id == f"{3:016x}" and published[-1].input_messages[0].content == "hi"
    now[0] = 11.5
    join.sweep()  # the unmatched records (deadline 11) leave; span 2 (deadline 12) still waits
    assert join.pending == 1
    now[0] = 12.0
    join.sweep()
    assert [e.span_id for e in published] == [f"{i:016x}" for i in (1, 3, 2)] and join.pending == 0
    assert metrics.otlp_join_spans.labels("evicted")._value.get() == 1
    assert metrics.otlp_join_spans.labels("without_logs")._value.get() == 1
    assert metrics.otlp_logs.labels("unmatched")._value.get() == 1
    assert metrics.otlp_logs.labels("joined")._value.get() == 1
