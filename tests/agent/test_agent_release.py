"""Release and prompt version of a call: from headers, the request body's metadata, or OTel
attributes (gen_ai.prompt.id / .version, resource service.version); stored in events."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

from lightkeeper.schemas._fastdecode import decode_row
from lightkeeper.schemas.codec import decode_event, encode_event
from lightkeeper.schemas.events import LLMCallEvent
from lightkeeper.schemas.rows import event_row


async def _chat(url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(url + "/v1/chat/completions", json=body, headers=headers) as r,
    ):
        await r.read()
        assert r.status == 200


async def test_release_from_headers_wins_over_body_metadata(agent_factory, fake_llm):
    agent = await agent_factory()
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "metadata": {"release": "2026.11.1", "prompt_id": "greeter", "prompt_version": "3"},
    }
    await _chat(agent.url, body, {"Authorization": "Bearer sk-x"})
    await _chat(
        agent.url,
        body,
        {
            "Authorization": "Bearer sk-x",
            "X-Lightkeeper-Release": "2026.12.0",
            "X-Lightkeeper-Prompt-Version": "4",
        },
    )
    first, second = (decode_event(v) for _, v in await agent.sink.wait_for(2))
    assert (first.release, first.prompt_id, first.prompt_version) == ("2026.11.1", "greeter", "3")
    assert (second.release, second.prompt_id, second.prompt_version) == ("2026.12.0", "greeter", "4")
    got = fake_llm.fake.received[-1]
    assert not any(k.lower().startswith("x-lightkeeper-") for k in got.headers)


def _attr(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


async def test_release_from_otel_attributes(agent_factory):
    agent = await agent_factory()
    start_ns = time.time_ns() - 60_000_000_000
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "chat",
        "startTimeUnixNano": str(start_ns),  # recent: inside the retention
        "endTimeUnixNano": str(start_ns + 1_000_000_000),
        "attributes": [
            _attr("gen_ai.system", "openai"),
            _attr("gen_ai.prompt.id", "summarizer"),
            _attr("gen_ai.prompt.version", "7"),
            _attr("gen_ai.prompt.0.role", "user"),
            _attr("gen_ai.prompt.0.content", "Summarize this"),
        ],
    }
    resource = {"attributes": [_attr("service.name", "svc"), _attr("service.version", "1.4.2")]}
    doc = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/v1/traces", data=orjson.dumps(doc), headers={"Content-Type": "application/json"}
        ) as r,
    ):
        assert r.status == 200
    ((_, value),) = await agent.sink.wait_for(1)
    ev = decode_event(value)
    assert (ev.release, ev.prompt_id, ev.prompt_version) == ("1.4.2", "summarizer", "7")
    assert [m.content for m in ev.input_messages] == ["Summarize this"]


def test_release_columns_are_the_same_on_the_fast_and_the_reference_path():
    ev = LLMCallEvent(
        event_id="e1",
        start_time=datetime(2026, 11, 2, tzinfo=UTC),
        release="r2",
        prompt_id="p",
        prompt_version="9",
    )
    fast = decode_row(encode_event(ev))
    assert fast is not None
    row = fast[0]
    reference = event_row(ev)
    for column in ("release", "prompt_id", "prompt_version"):
        assert row[column] == reference[column]
    assert reference["release"] == "r2"
    assert event_row(LLMCallEvent(event_id="e2"))["release"] == ""
