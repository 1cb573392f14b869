"""The fake provider's own knobs (used by the demo): forced answers and generation latency."""

from __future__ import annotations

import base64
import time

import aiohttp

from lightkeeper.demo.fake_provider import FakeLLMConfig, start_fake_llm


async def test_forced_answer_and_token_latency():
    _fake, runner, url = await start_fake_llm(FakeLLMConfig(token_latency_ms=10))
    try:
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        async with aiohttp.ClientSession() as s:
            t = time.perf_counter()
            async with s.post(
                url + "/v1/chat/completions", json=body, headers={"X-Fake-Answer": "one two three four"}
            ) as r:
                data = await r.json()
            elapsed = time.perf_counter() - t
            forced = "b64:" + base64.b64encode("réponse toxique".encode()).decode()
            async with s.post(url + "/v1/messages", json=body, headers={"X-Fake-Answer": forced}) as r:
                claude = await r.json()
        assert data["choices"][0]["message"]["content"] == "one two three four"
        assert data["usage"]["completion_tokens"] == 4 and elapsed >= 0.04
        assert claude["content"][0]["text"] == "réponse toxique"
    finally:
        await runner.cleanup()
