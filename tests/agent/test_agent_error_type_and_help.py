"""What the docs promise matches what comes out: ``error_type`` of real provider error bodies,
the ``up`` command's help (port default, upstream flags)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest
from aiohttp import web
from openai import AsyncOpenAI

from lightkeeper.agent.proxy.common import error_fields
from lightkeeper.cli.main import build_parser
from lightkeeper.runtime import load_settings
from lightkeeper.schemas.codec import decode_event

#: The body OpenAI sends with a rate-limited chat completion (HTTP 429).
OPENAI_429 = (
    b'{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-x on requests per min '
    b'(RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}'
)


@pytest.fixture
async def rate_limited_upstream() -> AsyncIterator[str]:
    async def limited(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(
            status=429, body=OPENAI_429, content_type="application/json", headers={"Retry-After": "20"}
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", limited)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


async def test_openai_rate_limit_body_gives_the_documented_error_type(agent_factory, rate_limited_upstream):
    agent = await agent_factory(openai_base_url=rate_limited_upstream)
    client = AsyncOpenAI(base_url=agent.url + "/v1", api_key="sk-test-0123456789abcdefghij", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    await client.close()
    ((_, value),) = await agent.sink.wait_for(1)
    ev = decode_event(value)
    assert ev.http_status == 429 and ev.error_type == "rate_limit_exceeded"
    assert (ev.error_message or "").startswith("Rate limit reached for gpt-4o-mini")


def test_error_type_is_the_code_else_the_type_else_the_status():
    anthropic_529 = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    openai_500 = {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}
    vllm_400 = {"error": {"message": "bad", "type": "BadRequestError", "code": 400}}
    assert error_fields(529, anthropic_529)["error_type"] == "overloaded_error"
    assert error_fields(500, openai_500)["error_type"] == "server_error"
    assert error_fields(400, vllm_400)["error_type"] == "BadRequestError"
    assert error_fields(502, {"detail": "x"})["error_type"] == "502"


def _up_help() -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command" or getattr(a, "choices", None))
    return sub.choices["up"].format_help()  # type: ignore[union-attr]


def test_up_help_states_the_port_the_agent_listens_on():
    agent, _ = load_settings(build_parser().parse_args(["up"]))
    help_text = " ".join(_up_help().split())
    assert f"agent port (default {agent.port})" in help_text  # type: ignore[attr-defined]


def test_up_sends_each_provider_to_its_own_upstream():
    parse = build_parser().parse_args
    agent, _ = load_settings(parse(["up", "--upstream", "http://gateway:1"]))
    assert agent.openai_base_url == agent.anthropic_base_url == "http://gateway:1"  # type: ignore[attr-defined]
    agent, _ = load_settings(
        parse(["up", "--openai-base-url", "http://o:1/v1", "--anthropic-base-url", "http://a:2"])
    )
    assert agent.openai_base_url == "http://o:1/v1" and agent.anthropic_base_url == "http://a:2"  # type: ignore[attr-defined]
    help_text = " ".join(_up_help().split())
    assert "BOTH OpenAI and Anthropic" in help_text
