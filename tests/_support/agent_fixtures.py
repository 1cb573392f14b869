"""Pytest fixtures for the agent: a fake LLM provider and agents started in the test's loop.

* ``fake_llm`` -> :class:`FakeUpstream` (``.fake`` with ``.config``/``.received``, ``.url``).
* ``agent_factory`` -> ``await agent_factory(sink=None, **settings)`` starting an agent on a
  free port pointed at ``fake_llm`` (both OpenAI and Anthropic upstreams), with a
  :class:`~agent.publisher.MemorySink` unless ``sink`` is given (``sink="kafka"`` builds the real
  :class:`~agent.publisher.KafkaPublisher`). Spool under the test's tmp dir. Returns a
  :class:`RunningAgent`; all agents stop at teardown (``await agent.stop()`` stops one early).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from lightkeeper.demo.fake_provider import FakeLLM, FakeLLMConfig, start_fake_llm


@dataclass
class FakeUpstream:
    fake: FakeLLM
    url: str
    runner: web.AppRunner


@dataclass
class RunningAgent:
    url: str
    port: int
    settings: Any
    sink: Any
    runner: web.AppRunner
    stopped: bool = False

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.runner.cleanup()


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeUpstream]:
    fake, runner, url = await start_fake_llm(FakeLLMConfig())
    yield FakeUpstream(fake, url, runner)
    await runner.cleanup()


@pytest.fixture
async def agent_factory(
    fake_llm: FakeUpstream, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[RunningAgent]]]:
    from lightkeeper.agent.app import SINK_KEY, serve
    from lightkeeper.agent.publisher import MemorySink
    from lightkeeper.agent.settings import AgentSettings

    agents: list[RunningAgent] = []

    async def make(sink: Any = None, **overrides: Any) -> RunningAgent:
        flags: dict[str, Any] = {
            "port": 0,
            "openai_base_url": fake_llm.url,
            "anthropic_base_url": fake_llm.url,
            "data_dir": tmp_path / "agent-data",
            "spool_dir": tmp_path / "spool",
            "app_name": "test-app",
        }
        flags.update(overrides)
        settings = AgentSettings.load(None, **flags)
        if sink is None:
            sink = MemorySink()
        runner, port = await serve(settings, None if sink == "kafka" else sink)
        sink = runner.app[SINK_KEY]  # the app's own KafkaPublisher shares the app's metrics
        agent = RunningAgent(f"http://127.0.0.1:{port}", port, settings, sink, runner)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        await agent.stop()
