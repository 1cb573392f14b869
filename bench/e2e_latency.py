"""End-to-end latency: Kafka produce -> event row inserted (visible) in the store, at a fixed
rate through one ``lightkeeper worker`` process on real Kafka and the embedded store.

    python bench/e2e_latency.py [--rate 1000] [--seconds 30] [--bootstrap host:port]

The worker measures, per event, the time from the producer's record timestamp (CreateTime) to
the completion of the insert holding its row (``lightkeeper_worker_e2e_seconds``); inserts are
synchronous, so the row is visible to queries from then on. After the run the benchmark checks
that every produced event is in the store. Target: p95 <= 2 s at 1,000 events/s.
Results go to bench/results/e2e_latency.json.
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
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from worker_throughput import RESULTS, committed, free_port, produce_all, start_broker, worker_cmd  # noqa: E402

from lightkeeper.kafka.topics import ensure_topics_async  # noqa: E402
from lightkeeper.processors.metrics import histogram_quantile  # noqa: E402
from lightkeeper.settings import KafkaSettings  # noqa: E402


def e2e_buckets(port: int) -> list[tuple[float, float]]:
    text = urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = []
    for line in text.splitlines():
        if line.startswith("lightkeeper_worker_e2e_seconds_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--bootstrap", default=os.environ.get("LIGHTKEEPER_KAFKA_BOOTSTRAP"))
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lk-bench-e2e-"))
    broker = None
    if not args.bootstrap:
        broker = start_broker(root / "kafka")
        args.bootstrap = broker.bootstrap
    kafka = KafkaSettings(
        bootstrap_servers=args.bootstrap,
        topic_prefix=f"e2e-{uuid.uuid4().hex[:6]}.",
        partitions=args.partitions,
    )
    topic = kafka.topic("events")
    app_id = f"e2e-{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = {**os.environ, "LIGHTKEEPER_KAFKA__PARTITIONS": str(args.partitions), "HF_HUB_OFFLINE": "1"}
    proc = None
    n = int(args.rate * args.seconds)
    try:
        await ensure_topics_async(kafka)
        log = (root / "worker.log").open("wb")
        proc = subprocess.Popen(  # noqa: ASYNC220 - a benchmark script
            worker_cmd(kafka, app_id, root / "w", 2000, port), env=env, stdout=log, stderr=subprocess.STDOUT
        )
        # warm up: wait until the worker consumes (one probe event committed)
        await produce_all(kafka, topic, 1)
        deadline = time.monotonic() + 120
        while await committed(kafka, app_id, topic) < 1:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"worker did not start: {(root / 'worker.log').read_text()[-3000:]}")
            await asyncio.sleep(0.3)
        warm = e2e_buckets(port)
        took = await produce_all(kafka, topic, n, rate=args.rate)
        deadline = time.monotonic() + 120
        while await committed(kafka, app_id, topic) < n + 1 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.3)
        buckets = [(le, c - dict(warm).get(le, 0.0)) for le, c in e2e_buckets(port)]
        proc.terminate()
        proc.wait(60)
        stored = (
            subprocess.run(  # noqa: ASYNC221 - after the run
                [
                    sys.executable,
                    "-c",
                    "import sys\nfrom lightkeeper.store import connect\n"
                    f"c=connect('chdb://{root / 'w' / 'store'}','lightkeeper')\n"
                    "print(c.query('SELECT count() FROM lightkeeper.events_dedup').result_rows[0][0])",
                ],
                capture_output=True,
                env=env,
                check=True,
                timeout=120,
            )
            .stdout.decode()
            .split()[-1]
        )
        result = {
            "rate_target": args.rate,
            "rate_achieved": round(n / took, 1),
            "events": n,
            "stored_rows": int(stored),  # distinct event ids; the warm-up probe repeats event 0
            "p50_s": round(histogram_quantile(buckets, 0.50) or 0, 3),
            "p95_s": round(histogram_quantile(buckets, 0.95) or 0, 3),
            "p99_s": round(histogram_quantile(buckets, 0.99) or 0, 3),
            "buckets": buckets,
            "cpu_count": os.cpu_count(),
            "loadavg_1m": os.getloadavg()[0],
            "target_p95_s": 2.0,
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "e2e_latency.json").write_text(json.dumps(result, indent=2))
        print(json.dumps({k: v for k, v in result.items() if k != "buckets"}, indent=2))
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        if broker is not None:
            broker.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
