"""RAG context in ``X-Lightkeeper-Context``: large headers pass, and a context the agent cannot
capture (malformed, longer than ``max_context_header_bytes``) never fails the application's call."""

from __future__ import annotations

import re

import orjson
from openai import AsyncOpenAI

from lightkeeper.schemas.codec import decode_event
from lightkeeper.schemas.events import LLMCallEvent

ANSWER = "Paris is the capital of France."


def _documents(n: int, chars: int) -> list[dict[str, str]]:
    return [{"id": f"doc-{i}", "text": f"Document {i}: " + "lorem ipsum " * (chars // 12)} for i in range(n)]


async def _call(agent_url: str, context: str) -> str | None:
    client = AsyncOpenAI(base_url=agent_url + "/v1", api_key="sk-test-0123456789abcdefghij", max_retries=0)
    try:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Capital of France?"}],
            extra_headers={"X-Lightkeeper-Context": context, "X-Fake-Answer": ANSWER},
        )
    finally:
        await client.close()
    return completion.choices[0].message.content


async def _events(agent, n: int) -> list[LLMCallEvent]:
    return [decode_event(v) for _, v in await agent.sink.wait_for(n)]


async def _problems(agent_url: str) -> dict[str, float]:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.get(agent_url + "/metrics") as r:
        text = await r.text()
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'lightkeeper_agent_capture_problems_total\{problem="([a-z_]+)"\} (\S+)', text)
    }


async def test_eight_rag_documents_in_the_header_are_captured(agent_factory):
    agent = await agent_factory()
    docs = _documents(8, 6000)  # ~48 KB of header: aiohttp's default limit is 8190 bytes
    context = orjson.dumps(docs).decode()
    assert len(context) > 40_000
    assert await _call(agent.url, context) == ANSWER
    (ev,) = await _events(agent, 1)
    assert [d.id for d in ev.context_documents or []] == [f"doc-{i}" for i in range(8)]


async def test_context_header_over_the_capture_limit_leaves_the_call_untouched(agent_factory):
    agent = await agent_factory()  # default limits
    context = orjson.dumps(_documents(60, 10_000)).decode()  # ~600 KB > max_context_header_bytes
    assert len(context) > agent.settings.max_context_header_bytes
    assert await _call(agent.url, context) == ANSWER
    (ev,) = await _events(agent, 1)
    assert ev.context_documents is None
    assert ev.metadata["context_header_error"].startswith("context_header_too_large:")
    assert (await _problems(agent.url)).get("context_header_too_large") == 1.0


async def test_malformed_context_header_leaves_the_call_untouched(agent_factory):
    agent = await agent_factory()
    assert await _call(agent.url, "{not json at all") == ANSWER
    assert await _call(agent.url, "b64:%%%") == ANSWER
    evs = await _events(agent, 2)
    assert all(ev.context_documents is None for ev in evs)
    assert all(ev.metadata["context_header_error"].startswith("context_header_invalid:") for ev in evs)
    assert (await _problems(agent.url)).get("context_header_invalid") == 2.0
