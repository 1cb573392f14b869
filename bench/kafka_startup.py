"""Benchmark of the development Kafka broker: cold (download) vs cached start, stop, memory.

    python bench/kafka_startup.py [--runs 3] [--skip-cold] [--version 4.4.0]

"cold" resolves Kafka into an empty cache *and* an empty Maven repository, so every jar comes
from Maven Central; "first start" formats storage; "cached start" reuses the jar cache and the
formatted data. Memory: the JVM's resident set (VmRSS) and its heap (``jcmd GC.heap_info``) after
start and after producing 20 000 messages of 1 KiB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from lightkeeper.kafka.devbroker import DevBroker
from lightkeeper.kafka.distribution import DEFAULT_KAFKA_VERSION, resolve
from lightkeeper.kafka.topics import create_topics_async
from lightkeeper.settings import KafkaSettings


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def heap_mb(pid: int) -> tuple[float, float]:
    """(used, committed) heap in MB from ``jcmd <pid> GC.heap_info``."""
    out = subprocess.run(
        ["jcmd", str(pid), "GC.heap_info"], capture_output=True, text=True, timeout=30
    ).stdout
    m = re.search(r"total (\d+)K, used (\d+)K", out)
    if not m:
        return float("nan"), float("nan")
    return int(m.group(2)) / 1024, int(m.group(1)) / 1024


async def workload(bootstrap: str, n: int = 20_000) -> float:
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    await create_topics_async(settings, {"bench": 3})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, compression_type="lz4")
    await producer.start()
    began = time.monotonic()
    try:
        payload = os.urandom(512).hex().encode()
        futures = [await producer.send("bench", payload, key=str(i % 64).encode()) for i in range(n)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return n / (time.monotonic() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--version", default=DEFAULT_KAFKA_VERSION)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="lk-kafka-bench-"))
    try:
        if not args.skip_cold:
            os.environ["LIGHTKEEPER_MAVEN_REPO"] = str(scratch / "m2")
            began = time.monotonic()
            dist = resolve(args.version, scratch / "kafka-home")
            size_mb = sum(p.stat().st_size for p in dist.libs.iterdir()) / 2**20
            print(
                f"cold resolve (Maven Central, empty caches): {time.monotonic() - began:6.1f} s "
                f"({len(dist.jars)} jars, {size_mb:.0f} MiB)"
            )
            del os.environ["LIGHTKEEPER_MAVEN_REPO"]
        resolve(args.version)
        began = time.monotonic()
        resolve(args.version)
        print(f"cached resolve (no mvn run):                {1000 * (time.monotonic() - began):6.1f} ms")

        broker = DevBroker.ephemeral(scratch / "data", version=args.version)
        first = broker.start()
        pid = broker.pid
        assert pid is not None
        print(f"first start (format + start + ready):       {first:6.1f} s")
        used, committed = heap_mb(pid)
        print(
            f"memory after start: RSS {rss_mb(pid):.0f} MiB, heap used {used:.0f} / committed "
            f"{committed:.0f} MiB (max {broker.heap_mb} MiB)"
        )
        rate = asyncio.run(workload(broker.bootstrap))
        used, committed = heap_mb(pid)
        print(
            f"after 20k x 1 KiB messages ({rate:,.0f} msg/s): RSS {rss_mb(pid):.0f} MiB, heap used "
            f"{used:.0f} / committed {committed:.0f} MiB"
        )
        first_stop = broker.stop()
        print(f"first stop (may record the class-data archive): {first_stop:5.1f} s")
        stops: list[float] = []
        for label, cds in (("cached start, CDS archive", "1"), ("cached start, no CDS     ", "0")):
            os.environ["LIGHTKEEPER_KAFKA_CDS"] = cds
            starts = []
            for _ in range(args.runs):
                starts.append(broker.start())
                stops.append(broker.stop())
            print(
                f"{label} x{args.runs}: median {statistics.median(starts):5.1f} s, "
                f"min {min(starts):.1f} s, max {max(starts):.1f} s"
            )
        os.environ.pop("LIGHTKEEPER_KAFKA_CDS")
        print(
            f"stop x{len(stops)} (SIGTERM, clean shutdown): median {statistics.median(stops):5.1f} s, "
            f"max {max(stops):.1f} s"
        )
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
