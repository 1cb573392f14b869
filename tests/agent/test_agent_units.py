"""Small pure parts: SSE parsing at arbitrary chunk boundaries, metadata headers, routing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lightkeeper.agent.metadata import parse_context, parse_tags, parse_traceparent
from lightkeeper.agent.proxy.handler import resolve
from lightkeeper.agent.proxy.sse import SSEParser
from lightkeeper.agent.settings import AgentSettings

STREAM = (
    b": keep-alive comment\r\n\r\n"
    b'event: message_start\r\ndata: {"a": 1}\r\n\r\n'
    b"data: line one\ndata: line two\n\n"
    b"data: [DONE]\n\n"
)


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=8))
def test_sse_same_events_for_any_chunking(cuts):
    parser = SSEParser()
    events = []
    prev = 0
    for cut in [*sorted(set(cuts)), len(STREAM)]:
        events += parser.feed(STREAM[prev:cut])
        prev = cut
    events += parser.close()
    assert [(e.event, e.data) for e in events] == [
        ("message_start", '{"a": 1}'),
        ("message", "line one\nline two"),
        ("message", "[DONE]"),
    ]


def test_sse_final_event_without_blank_line():
    parser = SSEParser()
    assert parser.feed(b"data: x") == []
    assert [e.data for e in parser.close()] == ["x"]


def test_metadata_parsers():
    assert parse_tags("a=1, b = two ,junk,c=") == {"a": "1", "b": "two", "c": ""}
    assert parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") == (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
    )
    assert parse_traceparent("00-" + "0" * 32 + "-b7ad6b7169203331-01") is None
    assert parse_traceparent("garbage") is None
    assert parse_context('["a", {"text": "b", "score": 1}]') == [{"text": "a"}, {"text": "b", "score": 1.0}]
    assert parse_context("b64:WyLDqXTDqSJd") == [{"text": "été"}]
    assert parse_context("not json") is None


def test_routing():
    s = AgentSettings.load(
        None,
        openai_base_url="http://o:1/v1",
        anthropic_base_url="http://a:2",
        upstreams={
            "azure": {"base_url": "https://x.openai.azure.com/openai/", "provider_name": "azure.ai.openai"}
        },
    )
    up = resolve(s, "/v1/chat/completions")
    assert up is not None and up.url == "http://o:1/v1/chat/completions" and up.kind == "openai"
    up = resolve(s, "/v1/messages")
    assert up is not None and up.url == "http://a:2/v1/messages" and up.kind == "anthropic"
    up = resolve(s, "/azure/deployments/gpt4/chat/completions")
    assert up is not None and up.url == "https://x.openai.azure.com/openai/deployments/gpt4/chat/completions"
    assert up.provider_name == "azure.ai.openai"
    assert resolve(s, "/nothing") is None


def test_gzip_response_is_decoded_for_the_event():
    import gzip
    import time

    import orjson

    from lightkeeper.agent.capture import Capture
    from lightkeeper.agent.events import build_event

    body = orjson.dumps(
        {
            "model": "m",
            "choices": [{"message": {"content": "zipped answer"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2},
        }
    )
    t = time.perf_counter_ns()
    cap = Capture(
        provider_kind="openai",
        provider_name="openai",
        route="/v1/chat/completions",
        api_path="/v1/chat/completions",
        method="POST",
        start_wall=time.time(),
        t_start=t,
        request_body=b'{"model": "m", "messages": []}',
        status=200,
        response_body=gzip.compress(body),
        content_encoding="gzip",
        t_end=t + 1_000_000,
    )
    ev = build_event(cap, AgentSettings.load(None))
    assert ev.output.text == "zipped answer" and ev.usage.output_tokens == 2 and ev.duration_ms == 1.0


def _sse(*objs) -> list:
    from lightkeeper.agent.proxy.sse import SSEEvent

    return [SSEEvent(e, orjson_dumps(o)) for e, o in objs]


def orjson_dumps(obj) -> str:
    import orjson

    return orjson.dumps(obj).decode()


def test_openai_stream_tool_calls_assembled():
    from lightkeeper.agent.proxy.openai import OpenAIStream

    asm = OpenAIStream("/v1/chat/completions")
    chunks = [
        {
            "id": "c1",
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "role": "assistant",
                        "tool_calls": [
                            {"index": 0, "id": "call_1", "function": {"name": "get_weather", "arguments": ""}}
                        ],
                    },
                }
            ],
        },
        {
            "id": "c1",
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}}
            ],
        },
        {
            "id": "c1",
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}}
            ],
        },
        {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"id": "c1", "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 12}},
    ]
    flags = [asm.feed(ev) for ev in _sse(*[("message", c) for c in chunks])]
    assert flags[0] is True
    out = asm.result()
    assert out["output"]["tool_calls"] == [
        {"id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'}
    ]
    assert out["finish_reasons"] == ["tool_calls"] and out["usage"]["output_tokens"] == 12
    assert out["response_model"] == "gpt-4o"


def test_anthropic_stream_tool_use_and_usage():
    from lightkeeper.agent.proxy.anthropic import AnthropicStream

    asm = AnthropicStream("/v1/messages")
    events = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "model": "claude",
                    "usage": {"input_tokens": 40, "output_tokens": 1, "cache_read_input_tokens": 30},
                },
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Let me check."},
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"q": '},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '"x"}'},
            },
        ),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 25}},
        ),
    ]
    for ev in _sse(*events):
        asm.feed(ev)
    out = asm.result()
    assert out["output"]["text"] == "Let me check."
    assert out["output"]["tool_calls"] == [{"id": "toolu_1", "name": "lookup", "arguments": '{"q": "x"}'}]
    assert out["usage"] == {"input_tokens": 40, "output_tokens": 25, "cache_read_input_tokens": 30}
    assert out["finish_reasons"] == ["tool_use"]


def test_settings_reject_bad_values_clearly(tmp_path):
    import pytest

    from lightkeeper.errors import ConfigError

    with pytest.raises(ConfigError, match="openai_base_url"):
        AgentSettings.load(None, openai_base_url="api.openai.com")
    with pytest.raises(ConfigError, match=r"upstreams\.x\.base_url"):
        AgentSettings.load(None, upstreams={"x": {"base_url": "nope"}})
    cfg = tmp_path / "lk.yaml"
    cfg.write_text("kafka:\n  bootstrap_servers: k:9092\nagent:\n  port: 9999\n  app_name: yaml-app\n")
    s = AgentSettings.load(cfg, port=7777)
    assert s.port == 7777 and s.app_name == "yaml-app" and s.kafka.bootstrap_servers == "k:9092"


async def test_kafka_config_error_fails_start(tmp_path):
    import pytest

    from lightkeeper.agent.publisher import KafkaPublisher
    from lightkeeper.errors import ConfigError

    s = AgentSettings.load(None, kafka__security_protocol="SASL_SSL", spool_dir=tmp_path)
    with pytest.raises(ConfigError, match="sasl"):
        await KafkaPublisher(s).start()


def test_run_freezes_startup_objects_for_the_gc(monkeypatch, tmp_path):
    """``lightkeeper agent`` moves what exists after startup out of the collector's view (a full
    collection over it stalls every proxied call); ``serve`` (tests, embedding) does not."""
    import asyncio
    import gc

    from aiohttp import web

    from lightkeeper.agent import app as app_module

    started: list[web.Application] = []
    monkeypatch.setattr(web, "run_app", lambda app, **kw: started.append(app))
    monkeypatch.setattr("uvloop.install", lambda: None)  # keep this process's loop policy
    app_module.run(AgentSettings(data_dir=tmp_path))
    (app,) = started
    assert app.on_startup[-1] is app_module.freeze_startup_objects
    before = gc.get_freeze_count()
    try:
        asyncio.run(app_module.freeze_startup_objects(app))
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


@given(st.binary(max_size=200))
def test_murmur2_matches_kafka_default_partitioner(key):
    """Same hash and partition as the Java client's (and aiokafka's) default partitioner."""
    from aiokafka.partitioner import DefaultPartitioner
    from aiokafka.partitioner import murmur2 as reference

    from lightkeeper.agent.kafka_support import murmur2, partition_for

    assert murmur2(key) == reference(key)
    for n in (1, 6, 7):
        parts = list(range(n))
        assert partition_for(key, parts) == DefaultPartitioner()(key, parts, parts)
