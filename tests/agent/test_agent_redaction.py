"""No credential reaches the published bytes; PII becomes typed placeholders; caps and sampling."""

from __future__ import annotations

import aiohttp

from lightkeeper.agent.redaction import Redactor
from lightkeeper.schemas.codec import decode_event
from lightkeeper.text.tokens import estimate_tokens

KEY = "sk-proj-Zt9Kq2mW8xLp4Rv7Nc1Bd6Hf3Js5Gy0A"
ANTHROPIC_KEY = "sk-ant-api03-Q1w2E3r4T5y6U7i8O9p0AsDfGhJkL"
AZURE_KEY = "3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e"


async def test_no_secret_in_published_bytes(agent_factory):
    agent = await agent_factory()
    secret_prompt = (
        f"my key is {KEY} and the other {ANTHROPIC_KEY}; api_key={AZURE_KEY}; "
        "header Authorization: Bearer abcdefghijklmnop.qrstuvwx"
    )
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": secret_prompt}]}
    async with aiohttp.ClientSession() as s:
        for headers in (
            {"Authorization": f"Bearer {KEY}"},
            {"api-key": AZURE_KEY},
            {"x-api-key": ANTHROPIC_KEY},
        ):
            async with s.post(agent.url + "/v1/chat/completions", json=body, headers=headers) as r:
                assert r.status == 200
        async with s.post(
            agent.url + "/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {KEY}"},
            params={"api-key": AZURE_KEY},
        ) as r:
            assert r.status == 200
    records = await agent.sink.wait_for(4)
    blob = b"".join((k or b"") + v for k, v in records)
    for secret in (KEY, ANTHROPIC_KEY, AZURE_KEY, "abcdefghijklmnop", 'Authorization": '):
        assert secret.encode() not in blob
    assert b"authorization" not in blob.lower().replace(b"header authorization", b"")
    ev = decode_event(records[0][1])
    assert ev.redacted and "API_KEY" in ev.redaction_types
    assert "<API_KEY>" in ev.input_messages[0].content


async def test_pii_redaction_typed_placeholders(agent_factory):
    agent = await agent_factory()
    prompt = "Mail me at jane.doe@example.com or call +1 415 555 0134, card 4111 1111 1111 1111."
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": prompt}]},
        ) as r,
    ):
        assert r.status == 200
    ((_, value),) = await agent.sink.wait_for(1)
    ev = decode_event(value)
    text = ev.input_messages[0].content
    assert "jane.doe@example.com" not in text and "<EMAIL>" in text
    assert "4111 1111 1111 1111" not in text and "<CREDIT_CARD>" in text
    assert "555 0134" not in text and "<PHONE>" in text
    assert {"EMAIL", "CREDIT_CARD", "PHONE"} <= set(ev.redaction_types)
    assert b"jane.doe@example.com" not in value


async def test_pii_redaction_can_be_disabled_but_secrets_still_go(agent_factory):
    agent = await agent_factory(pii_redaction=False)
    prompt = f"jane.doe@example.com {KEY}"
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": prompt}]},
        ) as r,
    ):
        await r.read()
    ((_, value),) = await agent.sink.wait_for(1)
    text = decode_event(value).input_messages[0].content
    assert "jane.doe@example.com" in text and KEY not in text


async def test_body_cap_sets_truncated(agent_factory):
    agent = await agent_factory(max_body_bytes=300)
    prompt = "word " * 500
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": prompt}]},
        ) as r,
    ):
        await r.read()
    ((_, value),) = await agent.sink.wait_for(1)
    ev = decode_event(value)
    assert ev.truncated and len(ev.input_messages[0].content) == 300
    assert ev.usage.input_tokens and ev.usage.input_tokens > 400  # usage from the provider, not the cut text


async def test_body_sampling_keeps_metadata(agent_factory):
    agent = await agent_factory(body_sample_rate={"/v1/chat/completions": 0.0})
    async with aiohttp.ClientSession() as s:
        async with s.post(
            agent.url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "secret-ish prompt"}]},
        ) as r:
            await r.read()
        async with s.post(agent.url + "/v1/completions", json={"model": "m", "prompt": "kept"}) as r:
            await r.read()
    records = await agent.sink.wait_for(2)
    sampled_out, kept = (decode_event(v) for _, v in records)
    assert (
        sampled_out.body_sampled is False
        and sampled_out.input_messages == []
        and sampled_out.output.text is None
    )
    assert (
        sampled_out.usage.input_tokens and sampled_out.request_model == "m" and sampled_out.http_status == 200
    )
    assert kept.body_sampled is True and kept.input_messages[0].content == "kept"
    assert b"secret-ish" not in records[0][1]


def test_redactor_patterns_and_exact_values():
    red = Redactor(pii=False, pii_types=None, secrets=["Bearer custom-token-123", "custom-token-123"])
    text = red(
        '{"password": "hunter22x", "token": custom-token-123, "aws": "AKIAIOSFODNN7EXAMPLE", '
        '"gh": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"}'
    )
    assert "hunter22x" not in text and "custom-token-123" not in text
    assert "AKIAIOSFODNN7EXAMPLE" not in text and "ghp_" not in text
    assert red("nothing to see here") == "nothing to see here"


def test_token_estimate_is_reasonable():
    assert estimate_tokens("") == 0
    assert estimate_tokens("Hello, world!") == 4
    n = estimate_tokens("The quick brown fox jumps over the lazy dog. " * 10)
    assert 90 <= n <= 130  # cl100k gives 100 for this text
