"""A large capture (PII scan of a long prompt) is built off the event loop: proxied calls keep
being served while it is scanned, and the event is the same as when built inline."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from lightkeeper.agent.capture import Capture
from lightkeeper.agent.context import ContextCache
from lightkeeper.agent.events import build_event
from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.publisher import MemorySink
from lightkeeper.agent.recorder import LARGE_CAPTURE_BYTES, Recorder, capture_bytes
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.text.pii import PII_TYPES

SENTENCE = "Anna Kowalski met John Smith and Maria Garcia at the Berlin office to review the contract. "


def large_capture() -> Capture:
    prompt = "Contact a.b@example.com. " + SENTENCE * 2000  # ~180 KB, hundreds of name candidates
    body = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]})
    resp = orjson.dumps(
        {
            "model": "gpt-4o-mini",
            "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        }
    )
    t = time.perf_counter_ns()
    return Capture(
        provider_kind="openai",
        provider_name="openai",
        route="/v1/chat/completions",
        api_path="/v1/chat/completions",
        method="POST",
        start_wall=time.time(),
        t_start=t,
        request_body=body,
        status=200,
        response_body=resp,
        t_end=t + 1_000_000,
    )


async def test_large_capture_is_built_while_the_loop_keeps_running() -> None:
    settings = AgentSettings.load(None, pii_types=sorted(PII_TYPES))  # names on: the slow scan
    cap = large_capture()
    assert capture_bytes(cap) >= LARGE_CAPTURE_BYTES
    sink = MemorySink()
    recorder = Recorder(settings, sink, AgentMetrics(), ContextCache(60, 100))
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:  # stands in for proxied requests served meanwhile
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0.001)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    await recorder.start()
    try:
        await asyncio.sleep(0.01)
        before = ticks
        started = time.perf_counter()
        recorder.record(cap)
        records = await sink.wait_for(1, timeout_s=60)
        took = time.perf_counter() - started
        during = ticks - before
    finally:
        stop.set()
        await tick_task
        await recorder.stop()
    event: dict[str, Any] = orjson.loads(records[0][1])
    prompt = event["input_messages"][0]["content"]
    assert "<EMAIL>" in prompt and "<PERSON>" in prompt and "Kowalski" not in prompt
    # built inline, the loop would not tick at all during the scan (tens to hundreds of ms)
    assert took > 0.02, took
    assert during >= 5, (during, took)


def test_threaded_and_inline_builds_give_the_same_event() -> None:
    settings = AgentSettings.load(None, pii_types=sorted(PII_TYPES))
    cap = large_capture()
    inline = build_event(cap, settings).model_dump(exclude={"event_id"})
    threaded = asyncio.run(asyncio.to_thread(build_event, cap, settings)).model_dump(exclude={"event_id"})
    assert inline == threaded
