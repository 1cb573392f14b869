"""Demo traffic on its own: the demo's call plan sent through a running agent.

    python -m lightkeeper.demo.traffic --agent-url http://127.0.0.1:8319 [--events 600] [--loop]

Used by the compose file's ``traffic`` service; needs only the base install."""

from __future__ import annotations

import argparse
import asyncio
import uuid

from lightkeeper.demo._driver import send_all
from lightkeeper.demo._scenario import plan


async def _run(agent_url: str, events: int, loop: bool, concurrency: int, pause_s: float) -> None:
    seed = 7
    while True:
        run_id = uuid.uuid4().hex[:8]
        statuses = await send_all(plan(events, seed), agent_url, run_id, concurrency=concurrency)
        print(f"run {run_id}: {events} calls, HTTP statuses {dict(sorted(statuses.items()))}", flush=True)
        if not loop:
            return
        seed += 1
        await asyncio.sleep(pause_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lightkeeper.demo.traffic", description=__doc__)
    parser.add_argument("--agent-url", default="http://127.0.0.1:8319")
    parser.add_argument("--events", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--loop", action="store_true", help="send a new plan every --pause-s seconds")
    parser.add_argument("--pause-s", type=float, default=30.0)
    args = parser.parse_args(argv)
    asyncio.run(_run(args.agent_url, args.events, args.loop, args.concurrency, args.pause_s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
