"""Publisher throughput: the agent's KafkaPublisher pushing 1 KB events to a real broker.

Measures the path the agent uses after an event is built: ``submit()`` into the bounded buffer
-> batches -> idempotent lz4 producer (acks=all) -> acknowledged. Also the end-to-end ingest
path (``POST /v1/events`` in batches of 500, validation and scrubbing included) through a real
agent process. Prints events/s and RSS.

Usage: ``nice -n 10 python bench/agent_publish.py [--events 200000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import orjson
from _agent_procs import cpu_seconds, rss_mb, start_agent, start_fake, start_kafka

from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.publisher import KafkaPublisher
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.schemas.events import LLMCallEvent


def one_kb_event(i: int) -> LLMCallEvent:
    text = "What is the refund policy for annual plans?"
    return LLMCallEvent(
        app="bench",
        request_model="gpt-4o-mini",
        tags={"i": str(i)},
        input_messages=[{"role": "user", "content": text}],
        output={"text": "ok"},
    )


async def publisher_phase(bootstrap: str, n: int, work: Path) -> tuple[float, int, dict[str, int]]:
    settings = AgentSettings.load(
        None,
        kafka__bootstrap_servers=bootstrap,
        kafka__topic_prefix=f"bench-pub-{uuid.uuid4().hex[:6]}.",
        spool_dir=work / "spool",
        buffer_size=50_000,
    )
    pub = KafkaPublisher(settings, AgentMetrics())
    await pub.start()
    while not pub.kafka_healthy:  # noqa: ASYNC110 - polling a plain flag
        await asyncio.sleep(0.05)
    values = [orjson.dumps(one_kb_event(i).model_dump(mode="json")) for i in range(1000)]
    size = sum(len(v) for v in values) // len(values)
    t0 = time.perf_counter()
    sent = 0
    while sent < n:
        # submit as fast as the buffer drains, like a busy agent
        while sent < n and len(pub._buf) < settings.buffer_size - 1:
            v = values[sent % 1000]
            pub.submit(str(sent).encode(), v)
            sent += 1
        await asyncio.sleep(0)
    while pub.counts["published"] + pub.counts["spooled"] + pub.counts["dropped"] < n:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - t0
    await pub.stop()
    return n / elapsed, size, dict(pub.counts)


async def ingest_phase(agent_url: str, n: int) -> float:
    batch = [one_kb_event(i).model_dump(mode="json") for i in range(500)]
    body = orjson.dumps(batch)
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as s:
        sem = asyncio.Semaphore(4)

        async def post() -> None:
            async with (
                sem,
                s.post(
                    agent_url + "/v1/events", data=body, headers={"Content-Type": "application/json"}
                ) as r,
            ):
                assert r.status == 200, await r.text()

        await asyncio.gather(*(post() for _ in range(n // 500)))
    return n / (time.perf_counter() - t0)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--ingest-events", type=int, default=20_000)
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    work = Path(tempfile.mkdtemp(prefix="lk-bench-pub-"))
    broker, bootstrap = start_kafka()
    procs = []
    try:
        rate, size, counts = await publisher_phase(bootstrap, args.events, work)
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        fake, fake_url = start_fake(0.0)
        agent, agent_url = start_agent(fake_url, bootstrap, work / "agent")
        procs += [fake, agent]
        cpu0 = cpu_seconds(agent.pid)
        ingest_rate = await ingest_phase(agent_url, args.ingest_events)
        ingest_cpu_us = (cpu_seconds(agent.pid) - cpu0) * 1e6 / args.ingest_events
        agent_rss = rss_mb(agent.pid)
    finally:
        for p in procs:
            p.terminate()
            p.wait(20)
        if broker is not None:
            broker.stop()  # type: ignore[attr-defined]
            shutil.rmtree(broker.data_dir, ignore_errors=True)  # type: ignore[attr-defined]
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n== agent -> Kafka publish throughput ({args.events} events of {size} bytes, lz4, acks=all, "
        "idempotent) =="
    )
    print(f"publisher (buffer -> Kafka acked): {rate:10.0f} events/s   counts={counts}")
    print(f"bench process peak RSS           : {peak_rss:10.1f} MiB")
    print(
        f"ingest API end to end (batches of 500, validate + scrub + publish): {ingest_rate:8.0f} events/s, "
        f"agent CPU {ingest_cpu_us:.0f} us/event"
    )
    print(f"agent RSS after ingest           : {agent_rss[0]:.1f} MiB (peak {agent_rss[1]:.1f})")


if __name__ == "__main__":
    asyncio.run(main())
