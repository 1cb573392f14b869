"""Upstream errors, timeouts, malformed bodies and client disconnects: passed through and recorded."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import orjson
import pytest

from lightkeeper.schemas.codec import decode_event

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


async def _one(agent):
    (_, value), *_ = await agent.sink.wait_for(1)
    return decode_event(value)


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limit_exceeded"), (500, "server_error")])
async def test_openai_http_errors_pass_through(agent_factory, status, kind):
    agent = await agent_factory()
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/v1/chat/completions", json=CHAT, headers={"X-Fake-Mode": f"error:{status}"}
        ) as r,
    ):
        body = orjson.loads(await r.read())
        assert r.status == status
        if status == 429:
            assert r.headers["Retry-After"] == "1"
    assert (body["error"]["code"] or body["error"]["type"]) == kind
    ev = await _one(agent)
    assert ev.http_status == status and ev.error_type == kind and ev.error_message == f"fake {kind}"
    assert ev.is_error and ev.usage.estimated is False and ev.usage.input_tokens is None


async def test_anthropic_overloaded(agent_factory):
    agent = await agent_factory()
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/v1/messages",
            json={"model": "c", "max_tokens": 5, "messages": []},
            headers={"X-Fake-Mode": "error:529"},
        ) as r,
    ):
        assert r.status == 529
        assert (await r.json())["error"]["type"] == "overloaded_error"
    ev = await _one(agent)
    assert ev.error_type == "overloaded_error" and ev.http_status == 529


async def test_upstream_timeout_gives_504_and_error_event(agent_factory):
    agent = await agent_factory(upstream_read_timeout_s=0.3)
    async with (
        aiohttp.ClientSession() as s,
        s.post(agent.url + "/v1/chat/completions", json=CHAT, headers={"X-Fake-Mode": "hang"}) as r,
    ):
        assert r.status == 504
        assert (await r.json())["error"]["type"] == "upstream_timeout"
    ev = await _one(agent)
    assert ev.error_type == "upstream_timeout" and ev.http_status == 504
    assert 250 <= ev.duration_ms < 5000


async def test_upstream_unreachable_gives_502(agent_factory):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    agent = await agent_factory(openai_base_url=f"http://127.0.0.1:{port}")
    async with aiohttp.ClientSession() as s, s.post(agent.url + "/v1/chat/completions", json=CHAT) as r:
        assert r.status == 502
    ev = await _one(agent)
    assert ev.error_type == "upstream_unreachable" and ev.http_status == 502


async def test_upstream_closing_without_an_answer_gives_502_disconnected(agent_factory):
    """The upstream takes the request and closes the connection: 502 ``upstream_disconnected``
    to the application, the call recorded with that error (sent once, never retried)."""
    requests = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        await reader.readuntil(b"\r\n\r\n")
        requests += 1
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        agent = await agent_factory(openai_base_url=f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as s, s.post(agent.url + "/v1/chat/completions", json=CHAT) as r:
            assert r.status == 502
            assert (await r.json())["error"]["type"] == "upstream_disconnected"
        ev = await _one(agent)
        assert ev.error_type == "upstream_disconnected" and ev.http_status == 502
        assert requests == 1
    finally:
        server.close()


async def test_malformed_json_passes_through_unchanged(agent_factory):
    agent = await agent_factory()
    async with (
        aiohttp.ClientSession() as s,
        s.post(agent.url + "/v1/chat/completions", json=CHAT, headers={"X-Fake-Mode": "malformed"}) as r,
    ):
        assert r.status == 200
        assert await r.read() == b'{"id": "chatcmpl-broken", "choices": ['
    ev = await _one(agent)
    assert ev.error_type == "malformed_response" and ev.http_status == 200
    assert "response body is not JSON" in ev.metadata["capture_problems"][0]


async def test_client_disconnect_mid_stream_is_recorded(agent_factory, fake_llm):
    fake_llm.fake.config.chunk_delay_ms = 50
    agent = await agent_factory()
    body = {**CHAT, "stream": True}
    async with aiohttp.ClientSession() as s:
        r = await s.post(agent.url + "/v1/chat/completions", json=body)
        first = await r.content.readany()
        assert first.startswith(b"data: ")
        r.close()  # drop the connection mid-stream
    ev = await _one(agent)
    assert ev.error_type == "client_disconnect" and ev.streaming
    assert ev.output.text is not None and len(ev.output.text) < 200


async def test_upstream_disconnect_mid_stream_is_recorded(agent_factory):
    agent = await agent_factory()
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers={"X-Fake-Mode": "disconnect"},
        ) as r,
    ):
        with pytest.raises(aiohttp.ClientPayloadError):
            await r.read()
    ev = await _one(agent)
    assert ev.error_type == "upstream_disconnected" and ev.streaming


async def test_event_build_bug_never_reaches_the_client(agent_factory, monkeypatch):
    import lightkeeper.agent.recorder as recorder_mod

    def boom(*args, **kwargs):
        raise RuntimeError("bug in event building")

    monkeypatch.setattr(recorder_mod, "build_event", boom)
    agent = await agent_factory()
    async with aiohttp.ClientSession() as s:
        async with s.post(agent.url + "/v1/chat/completions", json=CHAT) as r:
            assert r.status == 200
        await asyncio.sleep(0.1)
        async with s.get(agent.url + "/metrics") as r:
            metrics = await r.text()
    assert "lightkeeper_agent_event_build_errors_total 1.0" in metrics
    assert agent.sink.records == []


async def test_request_too_large_is_rejected(agent_factory):
    agent = await agent_factory(max_request_bytes=2048)
    async with (
        aiohttp.ClientSession() as s,
        s.post(agent.url + "/v1/chat/completions", data=b"x" * 5000) as r,
    ):
        assert r.status == 413


async def test_request_body_sent_slowly_is_forwarded_then_a_stalled_one_times_out(agent_factory, fake_llm):
    """A body arriving after the headers is waited for (up to ``client_timeout_s``): complete, it
    goes upstream unchanged; stalled, the client gets 408 and nothing goes upstream."""
    import asyncio

    agent = await agent_factory(client_timeout_s=0.5)
    body = b'{"model": "m", "messages": [{"role": "user", "content": "slow"}]}'
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    before = len(fake_llm.fake.received)
    reader, writer = await asyncio.open_connection("127.0.0.1", agent.port)
    writer.write(head + body[:10])
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.write(body[10:])
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    assert status_line.startswith(b"HTTP/1.1 200")
    writer.close()
    assert fake_llm.fake.received[-1].body == body

    reader, writer = await asyncio.open_connection("127.0.0.1", agent.port)
    writer.write(head + body[:10])  # and never the rest
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    assert status_line.startswith(b"HTTP/1.1 408")
    writer.close()
    assert len(fake_llm.fake.received) == before + 1
