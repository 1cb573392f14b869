"""Agent benchmark: direct vs through the agent, side by side, agent publishing to real Kafka.

Phases (figures printed as a table at the end):
1. non-streaming latency at a fixed offered rate (open loop, requests alternate direct/agent);
2. streaming: time to first token and inter-chunk gaps, direct vs agent;
3. maximum proxied throughput of one agent process (closed loop) and the agent's RSS;
4. (see bench/agent_publish.py for the in-process publisher throughput with 1 KB events).

Usage: ``nice -n 10 python bench/agent_latency.py [--rate 200] [--seconds 10]``. Kafka: the broker
at $LIGHTKEEPER_KAFKA_BOOTSTRAP, else a local dev broker started for the run.
``--latency-only`` runs phase 1 alone (faster iteration); ``--repeat N`` runs phase 1 N times
against the same agent and also prints each run's added latency and their median.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
from _agent_procs import cpu_seconds, pct, rss_mb, start_agent, start_fake, start_kafka

BODY = orjson.dumps(
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
)
STREAM_BODY = orjson.dumps(
    {
        "model": "gpt-4o-mini",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "Explain photosynthesis"}],
    }
)
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench-0123456789abcdef"}


async def _one(session: aiohttp.ClientSession, url: str, out: list[float]) -> None:
    t = time.perf_counter_ns()
    async with session.post(url + "/v1/chat/completions", data=BODY, headers=HEADERS) as r:
        await r.read()
        if r.status != 200:
            raise RuntimeError(f"status {r.status}")
    out.append((time.perf_counter_ns() - t) / 1e6)


async def latency_phase(
    direct: str, agent: str, rate: float, seconds: float
) -> tuple[list[float], list[float]]:
    d: list[float] = []
    a: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        for url in (direct, agent):  # warm up the connection pools
            await asyncio.gather(*(_one(s, url, []) for _ in range(20)))
        n = int(rate * seconds)
        t0 = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(
                asyncio.create_task(_one(s, direct if i % 2 == 0 else agent, d if i % 2 == 0 else a))
            )
        await asyncio.gather(*tasks)
    return d, a


async def _stream(session: aiohttp.ClientSession, url: str) -> tuple[float, list[float]]:
    t = time.perf_counter_ns()
    ttft = None
    stamps: list[int] = []
    async with session.post(url + "/v1/chat/completions", data=STREAM_BODY, headers=HEADERS) as r:
        async for chunk in r.content.iter_any():
            now = time.perf_counter_ns()
            if ttft is None and b'"content":"' in chunk and b'"content":""' not in chunk.split(b"\n\n")[0]:
                ttft = (now - t) / 1e6
            stamps.append(now)
    gaps = [(b - a) / 1e6 for a, b in itertools.pairwise(stamps)]
    return ttft or float("nan"), gaps


async def stream_phase(direct: str, agent: str, n: int) -> dict[str, tuple[list[float], list[float]]]:
    res: dict[str, tuple[list[float], list[float]]] = {"direct": ([], []), "agent": ([], [])}
    async with aiohttp.ClientSession() as s:
        for i in range(n):
            for name, url in (
                (("direct", direct), ("agent", agent))
                if i % 2 == 0
                else (("agent", agent), ("direct", direct))
            ):
                ttft, gaps = await _stream(s, url)
                res[name][0].append(ttft)
                res[name][1].extend(gaps)
    return res


async def throughput_phase(url: str, seconds: float, concurrency: int) -> tuple[int, float]:
    done = 0
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(s: aiohttp.ClientSession) -> None:
        nonlocal done, errors
        while time.perf_counter() < stop:
            try:
                async with s.post(url + "/v1/chat/completions", data=BODY, headers=HEADERS) as r:
                    await r.read()
                    done += r.status == 200
                    errors += r.status != 200
            except aiohttp.ClientError:
                errors += 1

    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        await asyncio.gather(*(worker(s) for _ in range(concurrency)))
    return done, done / (time.perf_counter() - t0)


def hist_quantiles(metrics: str) -> str:
    """p50/p95/p99 upper bucket bounds of the agent's added-latency histogram, in ms."""
    buckets = []
    for line in metrics.splitlines():
        if line.startswith("lightkeeper_agent_added_latency_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float(le), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0
    out = []
    for q in (0.5, 0.95, 0.99):
        bound = next((le for le, c in buckets if c >= q * total), float("inf"))
        out.append(f"p{int(q * 100)} <= {bound * 1000:g} ms")
    return ", ".join(out) + f" (n={total:.0f})"


def _print_latency(
    args: argparse.Namespace,
    d: list[float],
    a: list[float],
    added_hist: str,
    runs: list[tuple[float, float, float]],
    cpu_ms: float,
) -> None:
    """The non-streaming table (last run), the agent's own histogram and, with --repeat, every run."""
    print(
        f"\n== Lightkeeper agent benchmark (upstream latency {args.upstream_latency_ms} ms, "
        f"offered {args.rate:.0f} req/s for {args.seconds:.0f} s, alternating direct/agent) =="
    )
    print(f"{'non-streaming':<28}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'n':>8}")
    for name, v in (("direct", d), ("through agent", a)):
        print(f"{name:<28}{pct(v, 50):>10.3f}{pct(v, 95):>10.3f}{pct(v, 99):>10.3f}{len(v):>8}")
    print(
        f"{'added (agent - direct)':<28}{pct(a, 50) - pct(d, 50):>10.3f}{pct(a, 95) - pct(d, 95):>10.3f}"
        f"{pct(a, 99) - pct(d, 99):>10.3f}"
    )
    print(f"agent's own view (lightkeeper_agent_added_latency_seconds, bucket upper bounds): {added_hist}")
    print(f"agent CPU per proxied call at this rate (incl. event build + Kafka publish): {cpu_ms:.3f} ms")
    if len(runs) > 1:
        for i, (p50, p95, p99) in enumerate(runs, 1):
            print(f"  run {i}: added p50 {p50:.3f}  p95 {p95:.3f}  p99 {p99:.3f}")
        med = [statistics.median(r[k] for r in runs) for k in range(3)]
        print(f"  median of {len(runs)} runs: added p50 {med[0]:.3f}  p95 {med[1]:.3f}  p99 {med[2]:.3f}")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--upstream-latency-ms", type=float, default=20.0)
    ap.add_argument("--streams", type=int, default=30)
    ap.add_argument("--chunk-delay-ms", type=float, default=20.0)
    ap.add_argument("--throughput-seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-only", action="store_true", help="run the non-streaming phase only")
    ap.add_argument("--repeat", type=int, default=1, help="non-streaming phase runs (median printed)")
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    work = Path(tempfile.mkdtemp(prefix="lk-bench-agent-"))
    broker, bootstrap = start_kafka()
    procs = []
    try:
        fake, fake_url = start_fake(args.upstream_latency_ms, args.chunk_delay_ms)
        fast, fast_url = start_fake(0.0)
        procs += [fake, fast]
        agent, agent_url = start_agent(fake_url, bootstrap, work / "a")
        procs.append(agent)
        runs: list[tuple[float, float, float]] = []
        cpu0 = cpu_seconds(agent.pid)
        for _ in range(max(1, args.repeat)):
            d, a = await latency_phase(fake_url, agent_url, args.rate, args.seconds)
            runs.append(tuple(pct(a, q) - pct(d, q) for q in (50, 95, 99)))  # type: ignore[arg-type]
        await asyncio.sleep(0.5)  # events of the last requests built and published
        latency_cpu_ms = (cpu_seconds(agent.pid) - cpu0) * 1000 / (len(runs) * (len(a) + 20))
        async with aiohttp.ClientSession() as s:
            added_hist = hist_quantiles(await (await s.get(agent_url + "/metrics")).text())
        if args.latency_only:
            _print_latency(args, d, a, added_hist, runs, latency_cpu_ms)
            return
        streams = await stream_phase(fake_url, agent_url, args.streams)
        rss_after_latency = rss_mb(agent.pid)
        agent.terminate()
        agent.wait(20)
        agent2, agent2_url = start_agent(fast_url, bootstrap, work / "b")
        procs.append(agent2)
        direct_n, direct_rps = await throughput_phase(fast_url, args.throughput_seconds / 2, args.concurrency)
        cpu0 = cpu_seconds(agent2.pid)
        agent_n, agent_rps = await throughput_phase(agent2_url, args.throughput_seconds, args.concurrency)
        await asyncio.sleep(0.5)
        agent_cpu_ms = (cpu_seconds(agent2.pid) - cpu0) * 1000 / max(agent_n, 1)
        await asyncio.sleep(1)
        async with aiohttp.ClientSession() as s:
            metrics = await (await s.get(agent2_url + "/metrics")).text()
        rss_tp = rss_mb(agent2.pid)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(20)
        if broker is not None:
            broker.stop()  # type: ignore[attr-defined]
            shutil.rmtree(broker.data_dir, ignore_errors=True)  # type: ignore[attr-defined]
        shutil.rmtree(work, ignore_errors=True)

    _print_latency(args, d, a, added_hist, runs, latency_cpu_ms)
    dt, dg = streams["direct"]
    at, ag = streams["agent"]
    print(f"\nstreaming ({args.streams} streams each, chunk delay {args.chunk_delay_ms} ms)")
    print(f"{'':<28}{'TTFT p50':>10}{'TTFT p99':>10}{'gap mean':>10}{'gap p99':>10}")
    for name, t, g in (("direct", dt, dg), ("through agent", at, ag)):
        print(
            f"{name:<28}{pct(t, 50):>10.3f}{pct(t, 99):>10.3f}{statistics.fmean(g):>10.3f}{pct(g, 99):>10.3f}"
        )
    print(
        f"{'added':<28}{pct(at, 50) - pct(dt, 50):>10.3f}{pct(at, 99) - pct(dt, 99):>10.3f}"
        f"{statistics.fmean(ag) - statistics.fmean(dg):>10.3f}{pct(ag, 99) - pct(dg, 99):>10.3f}"
    )
    print(f"\nmax throughput (closed loop, {args.concurrency} connections, upstream latency 0)")
    print(f"  direct to fake upstream : {direct_rps:8.0f} req/s ({direct_n} requests)")
    print(f"  through the agent       : {agent_rps:8.0f} req/s ({agent_n} requests)")
    print(
        f"  agent CPU per proxied call (incl. event build + Kafka publish): {agent_cpu_ms:.3f} ms "
        f"-> one core saturates at ~{1000 / agent_cpu_ms:.0f} req/s"
    )
    published = [ln for ln in metrics.splitlines() if ln.startswith("lightkeeper_agent_events_total")]
    print("  agent events:", "; ".join(published))
    print(
        f"\nagent RSS after latency phases: {rss_after_latency[0]:.1f} MiB (peak {rss_after_latency[1]:.1f})"
    )
    print(f"agent RSS after throughput    : {rss_tp[0]:.1f} MiB (peak {rss_tp[1]:.1f})")


if __name__ == "__main__":
    asyncio.run(main())
