"""The ``poison`` reliability scenario: hostile ``/v1/events`` batches sent while proxied calls
flow through an embedded runtime (agent -> queue -> pipeline -> sink -> store).

Every hostile batch mixes good items with lone UTF-16 surrogates (kept as U+FFFD), start times
past the TTL or outside the store's range (refused by the agent with a reason), a huge text
(cut to ``max_body_bytes``), a too-long ``app`` (refused) and a seed too big for its Int64
column (accepted by the agent, refused by the store: a dead letter). Some bodies are not valid
gzip (whole body 400). Afterwards: every item the agent accepted is either a row in
``events_dedup`` or a dead letter (``accepted = stored + dead-lettered``), every refusal named
its reason, no answer was a 5xx, and the proxied calls are all stored once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from _support.chaos import ScenarioResult, drive_calls, tally
from _support.chaos_scenarios import PER_REQ, _provider

POISON_ROWS = (
    "SELECT tags['item'], count() FROM {db}.events_dedup WHERE tags['run'] = '{run}' "
    "AND tags['kind'] = 'poison' GROUP BY 1"
)


def hostile_batch(run: str, batch: int) -> tuple[str, int]:
    """A JSON array (as Python's ``json.dumps`` writes it) and how many of its items the agent
    should refuse. Items are tagged ``run`` (the proxied calls' run id + ``-poison``),
    ``kind=poison`` and a unique ``item``."""
    now = datetime.now(UTC)
    items: list[dict[str, Any]] = []

    def item(k: int, **fields: Any) -> dict[str, Any]:
        tags = {"run": run, "kind": "poison", "item": f"{batch}-{k}"}
        return {"app": "poison", "tags": tags, "start_time": now.isoformat(), **fields}

    items.append(item(0, output={"text": "fine"}))
    items.append(item(1, output={"text": "lone \ud800 high"}, user_id="u\udfff"))  # repaired
    items.append(item(2, input_messages=[{"role": "user", "content": "x" * 600_000}]))  # cut
    items.append(item(3, request={"seed": 2**63}))  # valid for the schema, not for Int64: dead letter
    refused = [
        item(4, start_time="1970-01-02T00:00:00Z"),
        item(5, start_time="2400-01-01T00:00:00Z"),
        item(6, start_time=(now - timedelta(days=400)).isoformat()),
        item(7, app="a" * 300),
        item(8, end_time=now.isoformat(), start_time=None),
    ]
    del refused[-1]["start_time"]
    items += refused
    return json.dumps(items), len(refused)


async def poison_ingest(
    work: Path, client: Any, database: str, *, batches: int = 20, rate: float = 20.0, calls: int = 200
) -> ScenarioResult:
    from lightkeeper.agent.settings import AgentSettings
    from lightkeeper.processors.settings import WorkerSettings
    from lightkeeper.runtime import EmbeddedRuntime

    run = uuid.uuid4().hex[:8]
    common: dict[str, Any] = {"store__database": database, "data_dir": work / "rt"}
    ws = WorkerSettings.load(None, batch_max=100, batch_within_s=0.2, **common)
    sent_items = accepted = refused = expected_refused = bad_gzip = 0
    problems: list[str] = []
    async with _provider() as upstream:
        ag = AgentSettings.load(
            None, host="127.0.0.1", port=0, openai_base_url=upstream, anthropic_base_url=upstream,
            ensure_topics=False, app_name="chaos", **common,
        )  # fmt: skip
        runtime = EmbeddedRuntime(ag, ws, client=client, stages=[])
        await runtime.start()
        try:
            traffic = asyncio.create_task(drive_calls(runtime.url, run, calls, rate=rate))
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
                for b in range(batches):
                    body, expect = hostile_batch(f"{run}-poison", b)
                    async with http.post(runtime.url + "/v1/events", data=body) as r:
                        answer = orjson.loads(await r.read()) if r.status < 500 else {}
                        if r.status != 207:
                            problems.append(f"batch {b}: HTTP {r.status}")
                    sent_items += len(json.loads(body))
                    accepted += answer.get("accepted", 0)
                    refused += answer.get("rejected", 0)
                    expected_refused += expect
                    if not all(p["message"] for e in answer.get("errors", []) for p in e["problems"]):
                        problems.append(f"batch {b}: a refusal without a reason")
                    async with http.post(
                        runtime.url + "/v1/events", data=b"\x1f\x8bnot gzip",
                        headers={"Content-Encoding": "gzip"},
                    ) as r:  # fmt: skip
                        bad_gzip += 1
                        if r.status != 400:
                            problems.append(f"invalid gzip: HTTP {r.status}")
                    await asyncio.sleep(1 / rate)
            stats = await traffic
            await runtime.wait_idle(120)
        finally:
            await runtime.stop()
    db_sql = PER_REQ.format(run=run).replace("lightkeeper.", f"{database}.")
    stored, lost, dup = tally(stats.sent, client.query(db_sql).result_rows)
    poison_rows = client.query(POISON_ROWS.format(db=database, run=f"{run}-poison")).result_rows
    stored_items = sum(int(n) for _, n in poison_rows)
    dup += sum(int(n) - 1 for _, n in poison_rows if int(n) > 1)
    dead_items = _dead_letters(work / "rt" / "dead-letters.jsonl", f"{run}-poison")
    lost_items = accepted - stored_items - dead_items
    if refused != expected_refused:
        problems.append(f"refused {refused}, expected {expected_refused}")
    note = (
        f"ingest items: {sent_items} sent, {accepted} accepted = {stored_items} stored + {dead_items} "
        f"dead-lettered{'' if lost_items == 0 else f' (MISMATCH {lost_items})'}, {refused} refused with "
        f"a reason; {bad_gzip} invalid gzip bodies -> 400; "
        f"slowest proxied call {stats.max_latency_s * 1000:.0f} ms"
        + ("; " + "; ".join(problems[:5]) if problems else "")
    )
    return ScenarioResult(
        "poison ingest under load",
        stats.sent + accepted,
        stored + stored_items,
        lost + abs(lost_items),
        dup,
        len(stats.failed) + len(problems),
        note=note,
    )


def _dead_letters(path: Path, run: str) -> int:
    """Dead letters of this run's poison items."""
    if not path.exists():
        return 0
    count = 0
    for line in path.read_bytes().splitlines():
        value = base64.b64decode(orjson.loads(line)["value_b64"])
        try:
            tags = orjson.loads(value).get("tags") or {}
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if tags.get("run") == run and tags.get("kind") == "poison":
            count += 1
    return count


__all__ = ["hostile_batch", "poison_ingest"]
