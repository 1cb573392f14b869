"""The embedded runtime (``lightkeeper up``): agent + processors + embedded ClickHouse in one
process, an in-process queue instead of Kafka. Same processor code, same tables as the worker.

Public surface::

    rt = EmbeddedRuntime(AgentSettings.load(...), WorkerSettings.load(...))
    await rt.start(); ...; await rt.wait_idle(); await rt.stop()
    run_embedded(args)   # the CLI command: serve until SIGINT/SIGTERM
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from lightkeeper.runtime._queue import EventQueue, Taken
from lightkeeper.runtime._runtime import EmbeddedRuntime, batch_summary

__all__ = ["EmbeddedRuntime", "EventQueue", "Taken", "batch_summary", "load_settings", "run_embedded"]

log = logging.getLogger(__name__)


def load_settings(args: argparse.Namespace) -> tuple[object, object]:
    """(AgentSettings, WorkerSettings) from the CLI flags and the config file."""
    from lightkeeper.agent.settings import AgentSettings
    from lightkeeper.processors.settings import WorkerSettings

    common = {
        "store__url": getattr(args, "store_url", None),
        "store__database": getattr(args, "database", None),
        "data_dir": getattr(args, "data_dir", None),
    }
    upstream = getattr(args, "upstream", None)  # one URL for both providers
    agent = AgentSettings.load(
        getattr(args, "config", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        openai_base_url=getattr(args, "openai_base_url", None) or upstream,
        anthropic_base_url=getattr(args, "anthropic_base_url", None) or upstream,
        ensure_topics=False,
        **common,
    )
    stages = getattr(args, "stages", None)
    worker = WorkerSettings.load(
        getattr(args, "config", None),
        stages=None if stages is None else [s for s in stages.split(",") if s],
        **common,
    )
    return agent, worker


def run_embedded(args: argparse.Namespace) -> int:
    """Serve the embedded runtime until interrupted."""
    agent, worker = load_settings(args)

    async def main() -> None:
        runtime = EmbeddedRuntime(agent, worker)  # type: ignore[arg-type]
        await runtime.start()
        print(f"lightkeeper up: agent on {runtime.url}  (store {worker.store_url}); Ctrl-C to stop")  # type: ignore[attr-defined]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runtime.stop()
        from lightkeeper.store import close_all

        close_all()  # while our signal handlers are still installed
        print(f"stored {runtime.stored} events, {runtime.dead} dead letters")

    asyncio.run(main())
    return 0
