"""User ids holding PII are hashed per the redaction settings; the data directory is private;
an unusable spool directory does not keep the agent from proxying."""

from __future__ import annotations

import asyncio
import re
import stat
from pathlib import Path

import aiohttp
from anthropic import AsyncAnthropic
from openai import AsyncOpenAI

from lightkeeper.schemas.codec import decode_event
from lightkeeper.schemas.events import LLMCallEvent
from lightkeeper.settings import make_private_dir

EMAIL = "alice.martin@example.com"


async def _events(agent, n: int) -> list[LLMCallEvent]:
    return [decode_event(v) for _, v in await agent.sink.wait_for(n)]


async def _openai_call(url: str, user: str, headers: dict[str, str] | None = None) -> None:
    client = AsyncOpenAI(base_url=url + "/v1", api_key="sk-test-0123456789abcdefghij", max_retries=0)
    try:
        await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            user=user,
            extra_headers=headers or {},
        )
    finally:
        await client.close()


async def test_email_as_user_id_is_stored_as_a_stable_hash(agent_factory):
    agent = await agent_factory()
    await _openai_call(agent.url, EMAIL)
    await _openai_call(agent.url, EMAIL)
    await _openai_call(agent.url, "bob@example.org")
    await _openai_call(agent.url, "u-42")
    anthropic = AsyncAnthropic(base_url=agent.url, api_key="sk-ant-test-0123456789abcdef", max_retries=0)
    await anthropic.messages.create(
        model="claude-3-5-haiku-latest",
        max_tokens=16,
        messages=[{"role": "user", "content": "hi"}],
        metadata={"user_id": EMAIL},
    )
    await anthropic.close()
    await _openai_call(agent.url, "ignored", {"X-Lightkeeper-User": EMAIL})
    evs = await _events(agent, 6)
    ids = [ev.user_id for ev in evs]
    assert all(EMAIL not in (i or "") and "example" not in (i or "") for i in ids[:3] + ids[4:])
    assert re.fullmatch(r"<EMAIL:[0-9a-f]{16}>", ids[0] or "")
    assert ids[0] == ids[1] == ids[4] == ids[5]  # same user, same id, whichever way it came
    assert ids[2] != ids[0]
    assert ids[3] == "u-42"
    assert "EMAIL" in evs[0].redaction_types and evs[0].redacted


async def test_user_id_hash_follows_the_redaction_settings(agent_factory):
    plain = await agent_factory(pii_redaction=False)
    await _openai_call(plain.url, EMAIL)
    keyed = await agent_factory(pii_hash_key="k-0123456789")
    await _openai_call(keyed.url, EMAIL)
    default = await agent_factory()
    await _openai_call(default.url, EMAIL)
    (ev_plain,) = await _events(plain, 1)
    (ev_keyed,) = await _events(keyed, 1)
    (ev_default,) = await _events(default, 1)
    assert ev_plain.user_id == EMAIL  # redaction off: kept as sent
    assert ev_keyed.user_id != ev_default.user_id and (ev_keyed.user_id or "").startswith("<EMAIL:")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_data_and_spool_directories_are_created_owner_only(agent_factory, tmp_path):
    data_dir = tmp_path / "new" / "lightkeeper"
    agent = await agent_factory(sink="kafka", publish_enabled=False, data_dir=data_dir, spool_dir=None)
    assert agent.settings.resolved_spool_dir == data_dir / "spool"
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "spool") == 0o700
    assert _mode(tmp_path / "new") == 0o700
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    make_private_dir(existing / "a" / "b")
    assert _mode(existing / "a") == _mode(existing / "a" / "b") == 0o700
    assert _mode(existing) == 0o755  # not ours to change


async def test_agent_starts_proxies_and_counts_drops_when_the_spool_cannot_be_opened(agent_factory, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool's parent directory should be")
    agent = await agent_factory(sink="kafka", publish_enabled=False, spool_dir=blocker / "spool")
    await _openai_call(agent.url, "u-1")  # the call is proxied
    async with aiohttp.ClientSession() as s:
        async with s.get(agent.url + "/readyz") as r:
            assert r.status == 503
            detail = await r.json()
        assert detail["ready"] is False and "spool" in detail["spool_error"]
        for _ in range(100):
            async with s.get(agent.url + "/metrics") as r:
                text = await r.text()
            if 'lightkeeper_agent_events_dropped_total{reason="no_spool"} 1.0' in text:
                break
            await asyncio.sleep(0.05)
    assert 'lightkeeper_agent_events_dropped_total{reason="no_spool"} 1.0' in text


def test_a_hashed_user_id_is_not_hashed_again_when_the_event_is_scrubbed_again():
    """Events are scrubbed again when re-published (late context, ingest): the id must not change
    (the hex digits of a hash can look like an IBAN or a phone number to the PII detector)."""
    from lightkeeper.agent.redaction import Redactor, pseudonymize

    changed = []
    for i in range(2000):
        first = pseudonymize(
            f"user{i}@example.com", Redactor(pii=True, pii_types=None), Redactor(pii=True, pii_types=None)
        )
        again = pseudonymize(first, Redactor(pii=True, pii_types=None), Redactor(pii=True, pii_types=None))
        if again != first:
            changed.append((first, again))
    assert changed == []
