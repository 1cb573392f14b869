"""Cost of the spool's fsync policies: appending batches of ~1.2 KB events to ``agent.spool.Spool``.

    nice -n 10 python bench/spool_write.py [--dir PATH] [--seconds 3]

For each policy (``batch``: fsync after every append; ``interval``: at most every 200 ms;
``never``) and batch size (1, 10, 100, 1000 events: what one linger window holds at 10, 100,
1,000, 10,000 events/s) prints events/s and the mean and p99 time of one append. The spool is
only written while Kafka is down or slow, so this is the cost during an outage. ``--dir``
chooses the file system (default: a temporary directory).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from lightkeeper.agent.spool import Spool


def run(directory: Path, fsync: str, batch: int, seconds: float) -> tuple[float, float, float]:
    value = b"x" * 1200
    records: list[tuple[bytes | None, bytes]] = [(f"key-{i}".encode(), value) for i in range(batch)]
    spool = Spool(directory, max_bytes=1 << 40, segment_bytes=64 << 20, fsync=fsync)  # type: ignore[arg-type]
    times: list[float] = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        spool.append(records)
        times.append(time.perf_counter() - t0)
    spool.close()
    total = sum(times)
    times.sort()
    return len(times) * batch / total, total / len(times), times[min(len(times) - 1, int(0.99 * len(times)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="lk-spool-bench-", dir=args.dir))
    print(f"spool on {base}")
    print(f"{'fsync':8} {'batch':>6} {'events/s':>12} {'mean append':>12} {'p99 append':>12}")
    try:
        for fsync in ("batch", "interval", "never"):
            for batch in (1, 10, 100, 1000):
                d = base / f"{fsync}-{batch}"
                rate, mean, p99 = run(d, fsync, batch, args.seconds)
                print(f"{fsync:8} {batch:6d} {rate:12,.0f} {mean * 1e3:10.3f}ms {p99 * 1e3:10.3f}ms")
                shutil.rmtree(d, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
