"""Whole-system fault scenarios (agent -> Kafka -> worker -> store), shared by ``tests/e2e``
(shortened) and ``bench/reliability.py`` (full length). Each returns a
:class:`~_support.chaos.ScenarioResult` counted per proxied call in the analysts'
view ``events_dedup``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from _support.chaos import (
    CallStats,
    OutageClient,
    ScenarioResult,
    WorkerProcess,
    drive_calls,
    tally,
    wait_caught_up,
)
from lightkeeper.settings import KafkaSettings

PER_REQ = "SELECT tags['req'], count() FROM lightkeeper.events_dedup WHERE tags['run'] = '{run}' GROUP BY 1"


@contextlib.asynccontextmanager
async def _provider() -> AsyncIterator[str]:
    from lightkeeper.demo.fake_provider import FakeLLMConfig, start_fake_llm

    _fake, runner, url = await start_fake_llm(FakeLLMConfig(latency_ms=5, record_requests=False))
    try:
        yield url
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def _agent(upstream: str, work: Path, kafka: KafkaSettings, **over: Any) -> AsyncIterator[Any]:
    """An in-process agent publishing to ``kafka``; yields its runner (``.url``, ``.sink``)."""
    from lightkeeper.agent.app import SINK_KEY, serve
    from lightkeeper.agent.settings import AgentSettings

    flags: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "openai_base_url": upstream,
        "anthropic_base_url": upstream,
        "data_dir": work / "agent",
        "spool_dir": work / "spool",
        "app_name": "chaos",
        "kafka": kafka.model_dump(),
        "publish_timeout_s": 3,
        "replay_interval_s": 0.5,
    }
    flags.update(over)
    settings = AgentSettings.load(None, **flags)
    runner, port = await serve(settings, None)
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", sink=runner.app[SINK_KEY], app=runner.app)
    finally:
        await runner.cleanup()


async def _wait_published(sink: Any, ok: int, timeout_s: float) -> str:
    """Until every accepted event left the agent (published or replayed; spool empty).
    Returns "" or, on timeout, a note with the agent's counts (the scenario then reports what
    reached the store)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        spool = getattr(sink, "spool", None)
        pending = spool.pending_records if spool is not None else 0
        if pending == 0 and sink.counts["published"] + sink.counts["replayed"] >= ok:
            return ""
        await asyncio.sleep(0.2)
    return f"; AGENT STUCK after {timeout_s:.0f}s: {dict(sink.counts)}"


def _result(name: str, stats: CallStats, worker: WorkerProcess, run: str, note: str) -> ScenarioResult:
    stored, lost, dup = tally(stats.sent, worker.query(PER_REQ.format(run=run)))
    return ScenarioResult(name, stats.sent, stored, lost, dup, len(stats.failed), note=note)


async def _kafka(work: Path, prefix: str) -> tuple[Any, KafkaSettings]:
    from lightkeeper.kafka.devbroker import DevBroker
    from lightkeeper.kafka.topics import ensure_topics_async

    broker = DevBroker.ephemeral(work / "kafka")
    await broker.astart()
    ks = KafkaSettings(bootstrap_servers=broker.bootstrap, topic_prefix=prefix, partitions=3)
    await ensure_topics_async(ks)
    return broker, ks


async def kafka_outage(
    work: Path, *, down_s: float = 30.0, rate: float = 20.0, margin_s: float = 5.0
) -> ScenarioResult:
    """The broker stops for ``down_s`` while calls flow at ``rate``/s (``margin_s`` of traffic
    before and after); every call must succeed and every call be stored exactly once."""
    run = uuid.uuid4().hex[:8]
    broker, ks = await _kafka(work, f"ko{run}.")
    worker = WorkerProcess(ks, f"lkw-{run}", work / "worker").start()
    try:
        # A worker that cannot reach Kafka at start-up exits (its supervisor restarts it): the
        # outage must begin after it has joined, or the scenario tests a start-up failure.
        await worker.wait_ready()
        async with _provider() as upstream, _agent(upstream, work, ks) as agent:
            n = int(rate * (down_s + 2 * margin_s))
            traffic = asyncio.create_task(drive_calls(agent.url, run, n, rate=rate))
            await asyncio.sleep(margin_s)
            t_down = time.monotonic()
            await broker.astop()
            await asyncio.sleep(max(0.0, down_s - (time.monotonic() - t_down)))
            await broker.astart()
            down_for = time.monotonic() - t_down
            stats = await traffic
            stuck = await _wait_published(agent.sink, stats.ok, 60)
            counts = dict(agent.sink.counts)
        await wait_caught_up(ks, worker.app_id, ks.topic("events"), 120, [worker])
    finally:
        worker.stop()
        await broker.astop()
    note = (
        f"broker down {down_for:.0f}s; spooled {counts.get('spooled', 0)}; "
        f"max call {stats.max_latency_s * 1000:.0f}ms{stuck}"
    )
    return _result("kafka broker down", stats, worker, run, note)


async def worker_killed(
    work: Path, *, rate: float = 50.0, seconds: float = 20.0, kill_after_s: float = 8.0
) -> ScenarioResult:
    """The worker is SIGKILLed mid-stream and restarted (same group and store)."""
    run = uuid.uuid4().hex[:8]
    broker, ks = await _kafka(work, f"wk{run}.")
    first = WorkerProcess(ks, f"lkw-{run}", work / "worker", batch_max=100).start()
    second: WorkerProcess | None = None
    try:
        async with _provider() as upstream, _agent(upstream, work, ks) as agent:
            traffic = asyncio.create_task(drive_calls(agent.url, run, int(rate * seconds), rate=rate))
            await asyncio.sleep(kill_after_s)
            await asyncio.to_thread(first.kill)
            killed_with_traffic = not traffic.done()
            await asyncio.sleep(1.0)
            second = WorkerProcess(ks, f"lkw-{run}", work / "worker", batch_max=100).start()
            stats = await traffic
            stuck = await _wait_published(agent.sink, stats.ok, 60)
        await wait_caught_up(ks, second.app_id, ks.topic("events"), 120, [second])
    finally:
        first.kill()
        if second is not None:
            second.stop()
        await broker.astop()
    when = "during traffic" if killed_with_traffic else "AFTER traffic"
    note = f"SIGKILL at {kill_after_s:.0f}s {when}{stuck}"
    return _result("worker SIGKILLed", stats, second, run, note)


async def spool_full(work: Path, *, calls: int = 300, spool_max_bytes: int = 96 * 1024) -> ScenarioResult:
    """Kafka unreachable, a small spool fills (drop_newest); the agent restarts with the spool
    non-empty and Kafka up: calls all succeed, stored = spooled and lost = counted drops exactly."""
    run = uuid.uuid4().hex[:8]
    down = KafkaSettings(bootstrap_servers="127.0.0.1:1", topic_prefix=f"sf{run}.", partitions=3)
    over = {"spool_max_bytes": spool_max_bytes, "spool_segment_bytes": 16 * 1024, "publish_timeout_s": 1}
    async with _provider() as upstream:
        async with _agent(upstream, work, down, **over) as agent:
            stats = await drive_calls(agent.url, run, calls, rate=100.0)
            await asyncio.sleep(0.5)
        first = dict(agent.sink.counts)
        broker, ks = await _kafka(work, f"sf{run}.")
        worker = WorkerProcess(ks, f"lkw-{run}", work / "worker").start()
        try:
            async with _agent(upstream, work, ks, **over) as again:
                stuck = await _wait_published(again.sink, first["spooled"], 60)
                second = dict(again.sink.counts)
            await wait_caught_up(ks, worker.app_id, ks.topic("events"), 120, [worker])
        finally:
            worker.stop()
            await broker.astop()
    stored, lost, dup = tally(stats.sent, worker.query(PER_REQ.format(run=run)))
    counted = first["dropped"]
    exact = lost == counted and stored == first["spooled"] == second["replayed"]
    note = f"spooled {first['spooled']}, dropped(counted) {counted}, replayed {second['replayed']}{stuck}"
    # drops that the agent counted are the policy working; only uncounted loss is a failure
    return ScenarioResult(
        "spool full + agent restart", stats.sent, stored, 0 if exact else lost, dup, len(stats.failed),
        note=note + ("" if exact else " MISMATCH"),
    )  # fmt: skip


async def store_outage(
    work: Path, client: Any, database: str, *, down_s: float = 30.0, rate: float = 20.0, margin_s: float = 5.0
) -> ScenarioResult:
    """Embedded runtime (agent -> queue -> pipeline -> sink) whose store refuses writes for
    ``down_s`` while calls flow: consumption pauses, nothing is lost, it catches up."""
    from lightkeeper.agent.settings import AgentSettings
    from lightkeeper.processors.settings import WorkerSettings
    from lightkeeper.runtime import EmbeddedRuntime

    run = uuid.uuid4().hex[:8]
    flaky = OutageClient(client)
    common: dict[str, Any] = {"store__database": database, "data_dir": work / "rt"}
    ws = WorkerSettings.load(
        None, batch_max=100, batch_within_s=0.2, retry_initial_s=0.2, retry_max_s=2.0, **common
    )
    async with _provider() as upstream:
        ag = AgentSettings.load(
            None, host="127.0.0.1", port=0, openai_base_url=upstream, anthropic_base_url=upstream,
            ensure_topics=False, app_name="chaos", **common,
        )  # fmt: skip
        runtime = EmbeddedRuntime(ag, ws, client=flaky, stages=[])
        await runtime.start()
        try:
            n = int(rate * (down_s + 2 * margin_s))
            traffic = asyncio.create_task(drive_calls(runtime.url, run, n, rate=rate))
            await asyncio.sleep(margin_s)
            timer = flaky.fail_for(down_s)
            await asyncio.sleep(down_s / 2)
            stored_mid = runtime.stored
            await asyncio.sleep(down_s / 4)
            paused = runtime.stored == stored_mid
            await asyncio.to_thread(timer.join)
            stats = await traffic
            await runtime.wait_idle(120)
        finally:
            await runtime.stop()
    rows = client.query(PER_REQ.format(run=run).replace("lightkeeper.", f"{database}.")).result_rows
    stored, lost, dup = tally(stats.sent, rows)
    note = f"refused inserts {flaky.refused}; consumption paused: {'yes' if paused else 'NO'}"
    return ScenarioResult("store refuses writes", stats.sent, stored, lost, dup, len(stats.failed), note=note)


__all__ = ["PER_REQ", "kafka_outage", "spool_full", "store_outage", "worker_killed"]
