"""``lightkeeper demo``: the embedded runtime, a simulated LLM provider and a traffic generator
sending realistic calls through the agent; then a summary computed by SQL over the store.

Public surface::

    summary = await run(DemoOptions(events=200, quick=True), client=None)   # DemoSummary
    run_demo(args)                                                          # the CLI command
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lightkeeper.demo._config import DEMO_DRIFT, DEMO_RULES
from lightkeeper.demo._driver import Progress, send_all
from lightkeeper.demo._scenario import Call, counts, plan
from lightkeeper.demo._summary import DemoSummary, collect, render

__all__ = ["Call", "DemoOptions", "DemoSummary", "counts", "plan", "run", "run_demo"]

log = logging.getLogger(__name__)

FULL_EVENTS = 600
QUICK_EVENTS = 200


@dataclass
class DemoOptions:
    """How the demo runs. ``stages`` None: every stage available in this install."""

    events: int = FULL_EVENTS
    stages: list[str] | None = None
    store_url: str | None = None
    database: str | None = None
    data_dir: Path | None = None
    config: str | None = None
    progress: bool = True
    latency_ms: float = 40.0
    concurrency: int = 16
    seed: int = 7


async def run(options: DemoOptions, *, client: Any = None, stages: list[Any] | None = None) -> DemoSummary:
    """Run the demo and return its summary (also printed). ``client``/``stages`` let tests
    share an open store client and choose the stages."""
    from lightkeeper.agent.settings import AgentSettings
    from lightkeeper.demo.fake_provider import FakeLLM, FakeLLMConfig
    from lightkeeper.processors.settings import WorkerSettings
    from lightkeeper.runtime import EmbeddedRuntime

    started_wall = time.monotonic()
    started = datetime.now(UTC)
    run_id = uuid.uuid4().hex[:8]
    common: dict[str, Any] = {
        "store__url": options.store_url,
        "store__database": options.database,
        "data_dir": options.data_dir,
    }
    worker = WorkerSettings.load(
        options.config,
        stages=options.stages,
        batch_within_s=0.25,
        batch_max=100,
        drift=DEMO_DRIFT,
        alert_rules_inline=DEMO_RULES,
        **common,
    )
    provider = FakeLLM(
        FakeLLMConfig(
            latency_ms=options.latency_ms,
            jitter_ms=options.latency_ms,
            chunk_delay_ms=2,
            words_per_chunk=3,
            record_requests=False,
        )
    )
    calls = plan(options.events, options.seed)
    runner, base = await _serve_provider(provider)
    agent = AgentSettings.load(
        options.config,
        host="127.0.0.1",
        port=0,
        openai_base_url=base,
        anthropic_base_url=base,
        ensure_topics=False,
        app_name="demo",
        **common,
    )
    runtime = EmbeddedRuntime(agent, worker, client=client, stages=stages)
    say = print if options.progress else (lambda *a, **k: None)
    say(
        f"Lightkeeper demo: {len(calls)} simulated LLM calls through the agent "
        f"(store {worker.store_url}); loading processors..."
    )
    await runtime.start()
    stage_names = [s.name for s in runtime.pipeline.stages] if runtime.pipeline else []
    say(f"  agent on {runtime.url}; simulated provider on {base}; stages: {', '.join(stage_names) or 'none'}")
    progress = Progress(options.progress, lambda: runtime.stored)
    try:
        statuses = await send_all(
            calls, runtime.url, run_id, concurrency=options.concurrency, progress=progress
        )
        progress(len(calls), len(calls), force=True)
        ticker = asyncio.create_task(_tick(progress, runtime, len(calls)))
        try:
            await runtime.wait_idle(180)
        finally:
            ticker.cancel()
        progress(runtime.stored + runtime.dead, len(calls), force=True, label="processed")
        progress.done()
    finally:
        await runtime.stop()
        await runner.cleanup()
    log.debug("HTTP statuses: %s", statuses)
    assert runtime.client is not None
    summary = await asyncio.to_thread(collect, runtime.client, worker.store.database, run_id, started)
    summary.dead_letters = runtime.dead
    summary.seconds = time.monotonic() - started_wall
    print(render(summary, store_url=worker.store_url, stages=stage_names))  # always, progress or not
    return summary


async def _tick(progress: Progress, runtime: Any, total: int) -> None:
    """Keep the progress line moving while the processors catch up."""
    while True:
        await asyncio.sleep(0.5)
        progress(runtime.stored + runtime.dead, total, label="processed")


async def _serve_provider(provider: Any) -> tuple[Any, str]:
    from aiohttp import web

    runner = web.AppRunner(provider.app(), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    return runner, f"http://127.0.0.1:{port}"


def run_demo(args: argparse.Namespace) -> int:
    """The ``lightkeeper demo`` command."""
    events = args.events or (QUICK_EVENTS if args.quick else FULL_EVENTS)
    stages = None if args.stages is None else [s for s in args.stages.split(",") if s]
    options = DemoOptions(
        events=events,
        stages=stages,
        store_url=args.store_url,
        database=args.database,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        config=getattr(args, "config", None),
        progress=not args.no_progress,
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    asyncio.run(run(options))
    return 0
