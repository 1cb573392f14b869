"""Throughput of enrichment + sink through ONE faust worker process on real Kafka and the
embedded store.

    python bench/worker_throughput.py [--events 100000] [--partitions 6] [--bootstrap host:port]
                                      [--compare]

Starts a private Kafka broker unless --bootstrap is given, pre-produces --events realistic
events, starts ``lightkeeper worker`` (no scoring stages) and measures, from the group's
committed offsets, how fast the worker stores them (events/s from its first commit to the
last) and its CPU time per event (less sensitive to a shared machine's load). ``--compare``
first runs a worker with the pydantic reference decode path over the same events (its own
consumer group and store), then one with the fast path. Also prints a single-thread
breakdown of the pipeline's per-event cost. Target: >= 10,000 events/s.
Results go to bench/results/worker_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # _support: the Kafka and chaos fixtures

from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402
from aiokafka.errors import KafkaError as AIOKafkaError  # noqa: E402

from lightkeeper.kafka.topics import ensure_topics_async  # noqa: E402
from lightkeeper.settings import KafkaSettings  # noqa: E402
from tests.worker.helpers import raw  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def start_broker(root: Path) -> Any:
    from _support.kafka_fixtures import start_private_broker

    return start_private_broker(root)


async def produce_all(kafka: KafkaSettings, topic: str, n: int, *, rate: float | None = None) -> float:
    """Produce ``n`` events (optionally paced at ``rate``/s); returns seconds taken."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        linger_ms=10,
        max_batch_size=512 * 1024,
        compression_type="lz4",
    )
    await producer.start()
    started = time.monotonic()
    try:
        futures = []
        for i in range(n):
            if rate:
                due = started + i / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            futures.append(await producer.send(topic, raw(i)))
            if len(futures) >= 5000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.monotonic() - started


async def committed(kafka: KafkaSettings, group: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except AIOKafkaError:  # the group (or its coordinator) does not exist yet
        return 0
    finally:
        await admin.close()
    return sum(max(m.offset, 0) for tp, m in offsets.items() if tp.topic == topic)


def worker_cmd(
    kafka: KafkaSettings, app_id: str, root: Path, batch_max: int, metrics_port: int = 0, within: float = 0.2
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lightkeeper",
        "--log-level",
        "WARNING",
        "worker",
        "--bootstrap",
        kafka.bootstrap_servers,
        "--topic-prefix",
        kafka.topic_prefix,
        "--app-id",
        app_id,
        "--store-url",
        f"chdb://{root / 'store'}",
        "--data-dir",
        str(root),
        "--batch-max",
        str(batch_max),
        "--batch-within",
        str(within),
        "--metrics-port",
        str(metrics_port),
        "--stages",
        "",
    ]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """Time the worker spent per activity (sums of its histograms) and its batch count."""
    from urllib.request import urlopen

    text = urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        for name in (
            "lightkeeper_worker_process_seconds_sum",
            "lightkeeper_worker_insert_seconds_sum",
            "lightkeeper_worker_batch_size_count",
            "lightkeeper_worker_batch_size_sum",
        ):
            if line.startswith(name):
                out[name.removeprefix("lightkeeper_worker_")] = out.get(name, 0.0) + float(line.split()[-1])
    return {k: round(v, 2) for k, v in out.items()}


def pipeline_breakdown(n: int = 5000) -> dict[str, float]:
    """Single-thread microseconds per event of each step, on the embedded store. ``decode_us``,
    ``enrich_us`` and ``row_us`` are the pydantic reference path; ``fast_pipeline_us`` is
    decode + enrich + row of the fast path (``Pipeline(fast=True).process``) and
    ``reference_pipeline_us`` the same through pydantic (``fast=False``), both CPU time."""
    from lightkeeper.processors.enrich import Enricher
    from lightkeeper.processors.pipeline import Pipeline, RawEvent, decode_batch
    from lightkeeper.schemas.rows import event_row
    from lightkeeper.store import _arrow, connect
    from lightkeeper.store.migrate import migrate
    from lightkeeper.store.writer import table_schema

    raws = [RawEvent(raw(i)) for i in range(n)]
    enricher = Enricher()
    t0 = time.perf_counter()
    events, _, _ = decode_batch(raws)
    t1 = time.perf_counter()
    enr = [enricher.enrich(e) for e in events]
    t2 = time.perf_counter()
    rows = [event_row(e, **x.columns()) for e, x in zip(events, enr, strict=True)]
    t3 = time.perf_counter()
    paths = {}
    for fast in (False, True, False, True):  # twice each, interleaved; the best counts
        pipeline = Pipeline(enricher, fast=fast)
        c0 = time.process_time()
        pipeline.process(raws)
        spent = time.process_time() - c0
        key = "fast_pipeline_us" if fast else "reference_pipeline_us"
        paths[key] = min(paths.get(key, spent), spent)
    tmp = tempfile.mkdtemp()
    client = connect(f"chdb://{tmp}/s", "lightkeeper")
    migrate(client, "lightkeeper")
    schema = table_schema(client, "lightkeeper", "events")
    t4 = time.perf_counter()
    table = _arrow.to_table(rows, schema)
    t5 = time.perf_counter()
    client.insert_arrow("events", table, database="lightkeeper")
    t6 = time.perf_counter()
    shutil.rmtree(tmp, ignore_errors=True)
    us = 1e6 / n
    return {
        "decode_us": (t1 - t0) * us,
        "enrich_us": (t2 - t1) * us,
        "row_us": (t3 - t2) * us,
        "arrow_us": (t5 - t4) * us,
        "insert_us": (t6 - t5) * us,
        "total_us": ((t3 - t0) + (t6 - t4)) * us,
        "reference_pipeline_us": paths["reference_pipeline_us"] * us,
        "fast_pipeline_us": paths["fast_pipeline_us"] * us,
        "event_bytes": float(len(raws[0].value)),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_worker(
    kafka: KafkaSettings, topic: str, root: Path, args: argparse.Namespace, *, fast: bool
) -> dict[str, Any]:
    """Start one worker (its own consumer group and store) over the produced events and
    measure it until every event is committed."""
    app_id = f"bench-{'fast' if fast else 'ref'}-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "LIGHTKEEPER_KAFKA__PARTITIONS": str(args.partitions),
        "HF_HUB_OFFLINE": "1",
        "LIGHTKEEPER_PIPELINE_FAST_DECODE": "1" if fast else "0",
    }
    launched = time.monotonic()
    log_path = root / f"{app_id}.log"
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - a benchmark script
        worker_cmd(kafka, app_id, root / app_id, args.batch_max, port, args.batch_within),
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        first_at = first_n = None
        first_cpu = 0.0
        done = 0
        while time.monotonic() - launched < args.timeout:
            done = await committed(kafka, app_id, topic)
            now = time.monotonic()
            if first_at is None and done > 0:
                first_at, first_n, first_cpu = now, done, cpu_seconds(proc.pid)
            if done >= args.events:
                break
            if proc.poll() is not None:
                raise SystemExit(f"worker exited: {log_path.read_text()[-3000:]}")
            await asyncio.sleep(0.25)
        end = time.monotonic()
        end_cpu = cpu_seconds(proc.pid)
        worker_metrics = scrape(port)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
    assert first_at is not None and first_n is not None
    steady = (done - first_n) / max(end - first_at, 1e-9)
    return {
        "path": "fast" if fast else "reference (pydantic decode)",
        "committed": done,
        "seconds_from_launch": round(end - launched, 2),
        "seconds_first_to_last_commit": round(end - first_at, 2),
        "events_per_s": round(steady, 1),
        "events_per_s_incl_startup": round(done / (end - launched), 1),
        "worker_cpu_us_per_event": round((end_cpu - first_cpu) * 1e6 / max(done - first_n, 1), 1),
        "loadavg_1m_at_end": os.getloadavg()[0],
        "worker_seconds": worker_metrics,
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--batch-max", type=int, default=5000)
    ap.add_argument("--batch-within", type=float, default=1.0)
    ap.add_argument("--bootstrap", default=os.environ.get("LIGHTKEEPER_KAFKA_BOOTSTRAP"))
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--compare", action="store_true", help="also run the pydantic reference path first")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lk-bench-tp-"))
    broker = None
    try:
        if not args.bootstrap:
            broker = start_broker(root / "kafka")
            args.bootstrap = broker.bootstrap
        kafka = KafkaSettings(
            bootstrap_servers=args.bootstrap,
            topic_prefix=f"bench-{uuid.uuid4().hex[:6]}.",
            partitions=args.partitions,
        )
        topic = kafka.topic("events")
        await ensure_topics_async(kafka)
        produce_s = await produce_all(kafka, topic, args.events)
        print(f"produced {args.events} events in {produce_s:.1f}s", flush=True)
        runs = []
        for fast in (False, True) if args.compare else (True,):
            run = await run_worker(kafka, topic, root, args, fast=fast)
            print(json.dumps(run), flush=True)
            runs.append(run)
        result = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "events": args.events,
            "partitions": args.partitions,
            "batch_max": args.batch_max,
            "batch_within_s": args.batch_within,
            "events_per_s": runs[-1]["events_per_s"],
            "runs": runs,
            "cpu_count": os.cpu_count(),
            "loadavg_1m": os.getloadavg()[0],
            "pipeline_breakdown_us_per_event": {k: round(v, 1) for k, v in pipeline_breakdown().items()},
            "target_events_per_s": 10_000,
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "worker_throughput.json").write_text(json.dumps(result, indent=2))
        print(json.dumps(result, indent=2))
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
