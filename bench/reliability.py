"""Reliability report: the whole system (agent -> Kafka -> worker -> store) under faults.

    python bench/reliability.py [--short] [--down-s 30] [--only kafka,worker,spool,store,agentkill,diskfull]

Scenarios (``tests/_support/chaos_scenarios.py``; the test suite runs shortened versions
in ``tests/e2e/test_faults.py``):

* ``kafka``  the broker is stopped for ``--down-s`` seconds while calls flow through the agent;
* ``worker`` the worker is SIGKILLed mid-stream and restarted;
* ``spool``  Kafka unreachable, the agent's spool fills (drop_newest), the agent restarts;
* ``agentkill`` the broker stops, the agent process is SIGKILLed 7 s later (tests: 4 s), a new
  agent replays its spool (``tests/_support/chaos_agent.py``); loss allowed: 1 s of calls;
* ``diskfull`` the agent's spool is a 256 KiB tmpfs (``unshare -m``; root or user namespaces),
  Kafka stops and the disk fills: not ready, every drop counted, replay when Kafka returns;
* ``store``  the store refuses every write for ``--down-s`` seconds (embedded runtime);
* ``alerts`` Slack/PagerDuty answer 429/500/time out, the runtime restarts mid-delivery;
* ``poison`` hostile ``/v1/events`` batches (lone surrogates, out-of-range times, invalid gzip,
  huge fields) while calls flow (``tests/_support/chaos_poison.py``): accepted = stored + dead-lettered.

Prints a table (scenario, calls sent, stored in ``events_dedup``, lost, duplicated in the
views, application-side failures, notifications expected/sent) and exits 1 on any loss,
duplicate, failed call or notification count mismatch. For the spool scenario, drops the
agent counted are the loss policy working; only uncounted loss fails.
Results also go to ``bench/results/reliability.json``. Run with ``nice -n 10`` on shared hosts.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the chaos harness: tests/_support
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _support import chaos_scenarios as sc  # noqa: E402
from _support.chaos import ScenarioResult, format_table  # noqa: E402
from _support.chaos_agent import agent_killed_in_outage, spool_disk_full  # noqa: E402
from _support.chaos_alerts import alert_delivery  # noqa: E402
from _support.chaos_poison import poison_ingest  # noqa: E402

ALL = ("kafka", "worker", "spool", "store", "alerts", "poison", "agentkill", "diskfull")
_CLIENT: list[object] = []


def _store(root: Path) -> object:
    """One embedded store for the whole run (chdb: one data directory per process)."""
    if not _CLIENT:
        from lightkeeper.store import connect
        from lightkeeper.store.migrate import migrate

        client = connect(f"chdb://{root / 'store'}", "lightkeeper")
        migrate(client, "lightkeeper")
        _CLIENT.append(client)
    return _CLIENT[0]


async def _run(name: str, work: Path, short: bool, down_s: float, root: Path) -> ScenarioResult:
    if name == "kafka":
        return await sc.kafka_outage(
            work, down_s=10 if short else down_s, rate=15 if short else 20, margin_s=3 if short else 5
        )
    if name == "worker":
        return await sc.worker_killed(
            work, rate=40, seconds=12 if short else 30, kill_after_s=6 if short else 12
        )
    if name == "spool":
        return await sc.spool_full(work, calls=300 if short else 1000, spool_max_bytes=64 * 1024)
    if name == "agentkill":
        return await agent_killed_in_outage(
            work, rate=60 if short else 100, before_s=3 if short else 5, kill_after_s=4 if short else 7
        )
    if name == "diskfull":
        return await spool_disk_full(
            work, rate=80 if short else 100, seconds=5 if short else 10, tmpfs_kib=256
        )
    if name == "alerts":
        return await alert_delivery(work, _store(root), "lightkeeper", apps=3)
    if name == "poison":
        return await poison_ingest(
            work, _store(root), "lightkeeper", batches=6 if short else 30, calls=60 if short else 300
        )
    client = _store(root)
    return await sc.store_outage(
        work, client, "lightkeeper", down_s=6 if short else down_s, rate=20, margin_s=2 if short else 5
    )


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--short", action="store_true", help="the test suite's shortened durations")
    parser.add_argument("--down-s", type=float, default=30.0, help="broker / store outage length")
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated scenarios")
    args = parser.parse_args(argv)
    results: list[ScenarioResult] = []
    root = Path(tempfile.mkdtemp(prefix="lk-rel-store-"))
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        if name not in ALL:
            parser.error(f"unknown scenario {name!r} (choose from {', '.join(ALL)})")
        started = time.monotonic()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix=f"lk-rel-{name}-") as d:
            try:
                result = await _run(name, Path(d), args.short, args.down_s, root)
            except Exception as exc:  # a scenario that cannot finish is a failed row, not a crash
                traceback.print_exc()
                result = ScenarioResult(name, 0, 0, -1, 0, note=f"ERROR: {exc!r}"[:200])
        result.note += f"; {time.monotonic() - started:.0f}s"
        results.append(result)
    shutil.rmtree(root, ignore_errors=True)
    print(format_table(results))
    out = ROOT / "bench" / "results" / "reliability.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([dataclasses.asdict(r) | {"ok": r.ok} for r in results], indent=2) + "\n")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
