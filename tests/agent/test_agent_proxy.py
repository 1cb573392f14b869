"""Proxy round trips against the fake provider, with events checked field by field."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

from lightkeeper.schemas.codec import decode_event
from lightkeeper.schemas.events import LLMCallEvent


async def _events(agent, n: int) -> list[LLMCallEvent]:
    records = await agent.sink.wait_for(n)
    return [decode_event(v) for _, v in records]


async def test_openai_chat_non_streaming_round_trip(agent_factory, fake_llm):
    agent = await agent_factory()
    body = {
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "max_tokens": 64,
        "seed": 7,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital of France?"},
        ],
    }
    headers = {
        "Authorization": "Bearer sk-test-0123456789abcdefghijkl",
        "X-Lightkeeper-App": "shop",
        "X-Lightkeeper-User": "u-1",
        "X-Lightkeeper-Session": "s-1",
        "X-Lightkeeper-Tags": "team=search, tier=gold",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }
    async with (
        aiohttp.ClientSession() as s,
        s.post(agent.url + "/v1/chat/completions", json=body, headers=headers) as r,
    ):
        raw = await r.read()
        assert r.status == 200
    direct = orjson.loads(raw)
    # upstream saw the auth header and none of the lightkeeper headers
    got = fake_llm.fake.received[-1]
    assert got.headers["Authorization"] == "Bearer sk-test-0123456789abcdefghijkl"
    assert not any(k.lower().startswith("x-lightkeeper-") for k in got.headers)
    assert orjson.loads(got.body) == body
    (ev,) = await _events(agent, 1)
    assert ev.source == "proxy" and ev.app == "shop" and ev.user_id == "u-1" and ev.session_id == "s-1"
    assert ev.tags == {"team": "search", "tier": "gold"}
    assert ev.trace_id == "0af7651916cd43dd8448eb211c80319c" and ev.span_id == "b7ad6b7169203331"
    assert ev.provider_name == "openai" and ev.operation_name == "chat" and ev.route == "/v1/chat/completions"
    assert ev.request_model == "gpt-4o-mini" and ev.response_model == "gpt-4o-mini"
    assert ev.request.temperature == 0.2 and ev.request.max_tokens == 64 and ev.request.seed == 7
    assert [m.role for m in ev.input_messages] == ["system", "user"]
    assert ev.input_messages[1].content == "Capital of France?"
    assert ev.output.text == direct["choices"][0]["message"]["content"]
    assert ev.response_id == direct["id"]
    assert ev.usage.input_tokens == direct["usage"]["prompt_tokens"]
    assert ev.usage.output_tokens == direct["usage"]["completion_tokens"]
    assert ev.usage.estimated is False
    assert ev.finish_reasons == ["stop"] and ev.http_status == 200 and not ev.is_error and not ev.streaming
    assert ev.duration_ms is not None and ev.duration_ms > 0


async def test_body_passes_through_byte_for_byte(agent_factory, fake_llm):
    agent = await agent_factory()
    payload = b'{"model":"m","messages":[{"role":"user","content":"x"}],  "extra_field": [1, 2]}'
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/v1/chat/completions", data=payload, headers={"Content-Type": "application/json"}
        ) as r,
    ):
        via_agent = await r.read()
        status = r.status
    assert status == 200
    assert fake_llm.fake.received[-1].body == payload
    assert orjson.loads(via_agent)["object"] == "chat.completion"


async def test_openai_streaming_usage_from_final_chunk(agent_factory, fake_llm):
    fake_llm.fake.config.chunk_delay_ms = 5
    agent = await agent_factory()
    body = {
        "model": "gpt-4o",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "Explain photosynthesis"}],
    }
    chunks: list[bytes] = []
    async with aiohttp.ClientSession() as s, s.post(agent.url + "/v1/chat/completions", json=body) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        async for chunk in r.content.iter_any():
            chunks.append(chunk)
    text = b"".join(chunks)
    assert text.endswith(b"data: [DONE]\n\n")
    datas = [orjson.loads(line[6:]) for line in text.split(b"\n") if line.startswith(b"data: {")]
    expected_text = "".join((d["choices"][0]["delta"].get("content") or "") for d in datas if d["choices"])
    final_usage = datas[-1]["usage"]
    (ev,) = await _events(agent, 1)
    assert ev.streaming and ev.output.text == expected_text
    assert ev.usage.input_tokens == final_usage["prompt_tokens"]
    assert ev.usage.output_tokens == final_usage["completion_tokens"]
    assert ev.usage.estimated is False
    assert ev.finish_reasons == ["stop"]
    assert ev.time_to_first_token_ms is not None and 0 < ev.time_to_first_token_ms <= ev.duration_ms


async def test_cumulative_per_chunk_usage_is_not_summed(agent_factory):
    agent = await agent_factory()
    body = {"model": "vllm-model", "stream": True, "messages": [{"role": "user", "content": "hello there"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(agent.url + "/v1/chat/completions", json=body, headers={"X-Fake-Mode": "cumulative"}) as r,
    ):
        text = await r.read()
    datas = [orjson.loads(line[6:]) for line in text.split(b"\n") if line.startswith(b"data: {")]
    (ev,) = await _events(agent, 1)
    assert ev.usage.output_tokens == datas[-1]["usage"]["completion_tokens"]
    assert ev.usage.output_tokens < sum(d["usage"]["completion_tokens"] for d in datas)


async def test_stream_without_usage_is_estimated(agent_factory):
    agent = await agent_factory()
    body = {
        "model": "gpt-4o",
        "stream": True,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
    }
    async with aiohttp.ClientSession() as s, s.post(agent.url + "/v1/chat/completions", json=body) as r:
        await r.read()
    (ev,) = await _events(agent, 1)
    assert ev.usage.estimated is True
    assert ev.usage.input_tokens and ev.usage.input_tokens > 5
    assert ev.usage.output_tokens and ev.usage.output_tokens > 5


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_messages(agent_factory, stream):
    agent = await agent_factory()
    body = {
        "model": "claude-3-5-haiku-latest",
        "max_tokens": 100,
        "system": "You are terse.",
        "stream": stream,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Reset my password"}]}],
    }
    headers = {"x-api-key": "sk-ant-api03-secretsecretsecret1234", "anthropic-version": "2023-06-01"}
    async with (
        aiohttp.ClientSession() as s,
        s.post(agent.url + "/v1/messages", json=body, headers=headers) as r,
    ):
        raw = await r.read()
        assert r.status == 200
    (ev,) = await _events(agent, 1)
    assert ev.provider_name == "anthropic" and ev.streaming is stream
    assert [m.role for m in ev.input_messages] == ["system", "user"]
    assert ev.input_messages[1].content == "Reset my password"
    assert ev.finish_reasons == ["end_turn"]
    if stream:
        datas = [orjson.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ")]
        start = next(d for d in datas if d["type"] == "message_start")
        delta = next(d for d in datas if d["type"] == "message_delta")
        text = "".join(d["delta"]["text"] for d in datas if d["type"] == "content_block_delta")
        assert ev.output.text == text
        assert ev.usage.input_tokens == start["message"]["usage"]["input_tokens"]
        assert ev.usage.output_tokens == delta["usage"]["output_tokens"]  # final, not 1 + final
    else:
        resp = orjson.loads(raw)
        assert ev.output.text == resp["content"][0]["text"]
        assert ev.usage.input_tokens == resp["usage"]["input_tokens"]
        assert ev.usage.output_tokens == resp["usage"]["output_tokens"]
    assert b"sk-ant-api03" not in agent.sink.records[0][1]


@pytest.mark.parametrize("path", ["/v1/completions", "/v1/responses", "/v1/embeddings"])
async def test_other_openai_endpoints(agent_factory, path):
    agent = await agent_factory()
    body = {"model": "m1", "prompt": "Say hi", "input": "Say hi"}
    async with aiohttp.ClientSession() as s, s.post(agent.url + path, json=body) as r:
        resp = orjson.loads(await r.read())
    (ev,) = await _events(agent, 1)
    assert ev.input_messages[-1].content == "Say hi"
    if path == "/v1/embeddings":
        assert ev.operation_name == "embeddings" and ev.usage.input_tokens == resp["usage"]["prompt_tokens"]
    elif path == "/v1/responses":
        assert ev.output.text == resp["output"][0]["content"][0]["text"]
        assert ev.usage.output_tokens == resp["usage"]["output_tokens"]
    else:
        assert ev.operation_name == "text_completion" and ev.output.text == resp["choices"][0]["text"]


async def test_responses_api_streaming(agent_factory):
    agent = await agent_factory()
    body = {"model": "gpt-4.1", "input": "Summarise the report", "stream": True}
    async with aiohttp.ClientSession() as s, s.post(agent.url + "/v1/responses", json=body) as r:
        raw = await r.read()
    completed = next(
        orjson.loads(line[6:])
        for line in raw.split(b"\n")
        if b"response.completed" in line and line.startswith(b"data: ")
    )["response"]
    (ev,) = await _events(agent, 1)
    assert ev.output.text == completed["output"][0]["content"][0]["text"]
    assert ev.usage.input_tokens == completed["usage"]["input_tokens"] and ev.streaming


async def test_named_route_and_context_header(agent_factory, fake_llm):
    agent = await agent_factory(
        upstreams={"vllm": {"base_url": fake_llm.url + "/v1", "provider": "openai", "provider_name": "vllm"}}
    )
    docs = [{"text": "Paris is the capital of France.", "id": "d1", "score": 0.9}, "Second doc"]
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/vllm/chat/completions",
            json={"model": "llama", "messages": [{"role": "user", "content": "Capital?"}]},
            headers={"X-Lightkeeper-Context": orjson.dumps(docs).decode()},
        ) as r,
    ):
        assert r.status == 200
    assert fake_llm.fake.received[-1].path == "/v1/chat/completions"
    (ev,) = await _events(agent, 1)
    assert ev.provider_name == "vllm" and ev.route == "/vllm/chat/completions"
    assert ev.context_documents is not None
    assert [d.text for d in ev.context_documents] == ["Paris is the capital of France.", "Second doc"]
    assert ev.context_documents[0].id == "d1" and ev.context_documents[0].score == 0.9


async def test_context_posted_by_trace_id(agent_factory):
    agent = await agent_factory()
    async with aiohttp.ClientSession() as s:
        async with s.post(
            agent.url + "/v1/context", json={"trace_id": "trace-42", "documents": ["Doc A"]}
        ) as r:
            assert r.status == 200
        async with s.post(
            agent.url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "q"}]},
            headers={"X-Lightkeeper-Trace-Id": "trace-42"},
        ) as r:
            await r.read()
        async with s.post(
            agent.url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "q"}]},
        ) as r:
            await r.read()
    evs = await _events(agent, 2)
    assert evs[0].trace_id == "trace-42" and [d.text for d in evs[0].context_documents] == ["Doc A"]
    assert evs[1].context_documents is None  # documented default: unknown context


async def test_context_posted_after_the_call_republishes_the_event(agent_factory):
    agent = await agent_factory()
    headers = {"X-Lightkeeper-Trace-Id": "late-1"}
    chat = {"model": "m", "messages": [{"role": "user", "content": "q"}]}
    async with aiohttp.ClientSession() as s:
        async with s.post(agent.url + "/v1/chat/completions", json=chat, headers=headers) as r:
            await r.read()
        first = await _events(agent, 1)
        docs = {"trace_id": "late-1", "documents": ["Doc for jane@example.com"]}
        async with s.post(agent.url + "/v1/context", json=docs) as r:
            assert (await r.json())["attached_to_earlier_call"] is True
        async with s.post(agent.url + "/v1/context", json={"trace_id": "unknown", "documents": []}) as r:
            assert (await r.json())["attached_to_earlier_call"] is False
    evs = await _events(agent, 2)
    assert first[0].context_documents is None
    assert evs[1].event_id == evs[0].event_id and evs[1].metadata["context_attached_late"] is True
    assert [d.text for d in evs[1].context_documents] == ["Doc for <EMAIL>"]
    assert evs[1].output.text == evs[0].output.text


async def test_non_model_paths_pass_through_without_events(agent_factory, fake_llm):
    agent = await agent_factory()
    async with aiohttp.ClientSession() as s:
        async with s.get(agent.url + "/v1/models") as r:
            assert r.status in (404, 405)  # the fake has no such route: the upstream answer comes back as is
        async with s.post(agent.url + "/v1/chat/completions", json={"model": "m", "messages": []}) as r:
            assert r.status == 200
    (ev,) = await _events(agent, 1)
    assert ev.route == "/v1/chat/completions"
    await asyncio.sleep(0.05)
    assert len(agent.sink.records) == 1


async def test_non_streaming_has_no_ttft(agent_factory):
    agent = await agent_factory()
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
        ) as r,
    ):
        await r.read()
    (ev,) = await _events(agent, 1)
    assert ev.time_to_first_token_ms is None and ev.duration_ms > 0


async def test_non_streaming_answer_leaves_in_one_write(agent_factory, monkeypatch):
    """Status line, headers and body of a buffered answer go to the client in one transport write:
    headers written apart are a second TCP segment, one more wake-up of the client per call."""
    from aiohttp import http_writer, web_protocol

    agent = await agent_factory()
    writes: list[bytes] = []
    real_write = http_writer.StreamWriter._write
    real_writelines = http_writer.StreamWriter._writelines

    def agent_side(writer: http_writer.StreamWriter) -> bool:
        proto = writer._protocol
        return (
            isinstance(proto, web_protocol.RequestHandler)
            and proto.transport is not None
            and proto.transport.get_extra_info("sockname")[1] == agent.port
        )

    def spy_write(self, chunk):
        if agent_side(self):
            writes.append(bytes(chunk))
        return real_write(self, chunk)

    def spy_writelines(self, chunks):
        chunks = list(chunks)
        if agent_side(self):
            writes.append(b"".join(chunks))
        return real_writelines(self, chunks)

    monkeypatch.setattr(http_writer.StreamWriter, "_write", spy_write)
    monkeypatch.setattr(http_writer.StreamWriter, "_writelines", spy_writelines)
    async with aiohttp.ClientSession() as s:
        for status_mode in ("ok", "error:429"):
            writes.clear()
            async with s.post(
                agent.url + "/v1/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
                headers={"X-Fake-Mode": status_mode},
            ) as r:
                body = await r.read()
            assert len(writes) == 1, status_mode
            assert writes[0].startswith(b"HTTP/1.1 ") and writes[0].endswith(body)
            assert int(r.headers["Content-Length"]) == len(body)


async def test_repeated_headers_pass_through_both_ways(agent_factory):
    """A header sent twice (``Set-Cookie`` from the provider, any from the client) arrives twice."""
    from aiohttp import web

    seen: list[list[tuple[str, str]]] = []

    async def upstream_handler(request: web.Request) -> web.Response:
        seen.append([(k, v) for k, v in request.headers.items() if k.lower().startswith("x-dup")])
        resp = web.json_response({"id": "x", "choices": []})
        resp.headers.add("Set-Cookie", "a=1")
        resp.headers.add("Set-Cookie", "b=2")
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", upstream_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        agent = await agent_factory(openai_base_url=f"http://127.0.0.1:{port}")
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                agent.url + "/v1/chat/completions",
                data=b'{"model": "m", "messages": []}',
                headers=[("Content-Type", "application/json"), ("X-Dup", "1"), ("X-Dup", "2")],
            ) as r,
        ):
            await r.read()
            assert r.status == 200
            assert r.headers.getall("Set-Cookie") == ["a=1", "b=2"]
        assert seen == [[("X-Dup", "1"), ("X-Dup", "2")]]
    finally:
        await runner.cleanup()


async def test_chained_call_is_not_queued_behind_the_previous_event_build(agent_factory, monkeypatch):
    """A client that sends its next request as soon as it has read a response gets that request
    read before the previous call's event is built (the build is deferred, see recorder._DEFER_S)."""
    monkeypatch.setattr(
        "lightkeeper.agent.recorder._DEFER_S", 0.3
    )  # wide, so the order does not hang on timing
    agent = await agent_factory()
    marks: list[tuple[str, float]] = []
    original_submit = agent.sink.submit

    def submit(key, value):
        marks.append(("built", asyncio.get_running_loop().time()))
        original_submit(key, value)

    monkeypatch.setattr(agent.sink, "submit", submit)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as s:
        for _ in range(2):
            marks.append(("sent", asyncio.get_running_loop().time()))
            async with s.post(agent.url + "/v1/chat/completions", json=body) as r:
                assert r.status == 200
                await r.read()
    await agent.sink.wait_for(2)
    assert [m for m, _ in marks] == ["sent", "sent", "built", "built"]
