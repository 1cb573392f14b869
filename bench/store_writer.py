"""Store write throughput: Arrow batches of 1k/5k/20k events vs one row per insert.

Runs against a fresh embedded store in a temporary directory (or ``--url``). Measures
separately: building rows (``event_row``), Arrow conversion + insert through ``BatchWriter``,
and the naive one-row-per-insert path (a small count: it is slow).

    nice -n 10 python bench/store_writer.py [--events 20000] [--single 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from lightkeeper.schemas.events import ContextDocument, LLMCallEvent, Message, Output, Usage
from lightkeeper.schemas.rows import event_row
from lightkeeper.store import connect
from lightkeeper.store.migrate import migrate
from lightkeeper.store.writer import BatchWriter

PROMPT = "Summarize the attached customer ticket and propose a reply in a friendly tone. " * 4
ANSWER = "Thanks for reaching out! We have refunded the duplicate charge; it shows within 3 days. " * 5


def make_events(n: int) -> list[LLMCallEvent]:
    start = datetime.now(UTC) - timedelta(hours=1)
    return [
        LLMCallEvent(
            app=f"app-{i % 5}",
            environment="prod",
            user_id=f"user-{i % 997}",
            provider_name="openai",
            request_model="gpt-4o-mini",
            response_model="gpt-4o-mini",
            usage=Usage(input_tokens=400 + i % 300, output_tokens=80 + i % 60),
            finish_reasons=["stop"],
            start_time=start + timedelta(milliseconds=i),
            duration_ms=300.0 + i % 700,
            time_to_first_token_ms=90.0 + i % 50,
            http_status=200,
            input_messages=[
                Message(role="system", content="You are a support agent."),
                Message(role="user", content=PROMPT),
            ],
            output=Output(text=ANSWER),
            context_documents=[ContextDocument(text="Refund policy: 30 days.", id="kb-1")]
            if i % 3 == 0
            else None,
            tags={"team": "care", "region": "eu"},
            metadata={"ticket": i},
        )
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="store URL (default: a temporary embedded store)")
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--single", type=int, default=200, help="events for the one-row-per-insert path")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="lk-bench-")
    url = args.url or f"chdb://{tmp.name}/store"
    database = f"bench_{uuid.uuid4().hex[:8]}"
    client = connect(url, database)
    migrate(client, database)

    events = make_events(args.events)
    size = len(events[0].model_dump_json())
    t0, c0 = time.perf_counter(), time.process_time()
    rows = [event_row(ev, cost_usd="0.000123", pricing_version="bench") for ev in events]
    results: list[tuple[str, int, float, float]] = [
        ("event_row() build only", len(rows), time.perf_counter() - t0, time.process_time() - c0)
    ]
    BatchWriter(client, "events", database=database).write(rows[:10])  # warm up Arrow and the schema

    for batch in (1000, 5000, 20000):
        writer = BatchWriter(client, "events", database=database, batch_rows=batch, flush_interval_s=3600)
        t0, c0 = time.perf_counter(), time.process_time()
        writer.add(rows)
        writer.flush()
        elapsed = time.perf_counter() - t0
        results.append((f"BatchWriter batch_rows={batch}", len(rows), elapsed, time.process_time() - c0))

    single = rows[: args.single]
    writer = BatchWriter(client, "events", database=database, batch_rows=1, flush_interval_s=3600)
    t0, c0 = time.perf_counter(), time.process_time()
    for row in single:
        writer.write([row])
    results.append(("one row per insert", len(single), time.perf_counter() - t0, time.process_time() - c0))

    engine = "chdb (embedded)" if url.startswith("chdb://") else url.split("@")[-1]
    print(f"store: {engine}, event JSON size ~{size} bytes, {len(rows)} events per run")
    print("wall: elapsed time; cpu: this process's CPU time (all threads, incl. chdb's) - on a busy")
    print("machine rows per CPU-second is the fairer figure")
    print(f"{'path':34} {'rows':>7} {'wall s':>8} {'rows/s':>9} {'cpu s':>8} {'rows/cpu-s':>11}")
    for name, n, wall, cpu in results:
        print(f"{name:34} {n:7d} {wall:8.3f} {n / wall:9,.0f} {cpu:8.3f} {n / max(cpu, 1e-9):11,.0f}")
    client.command(f"DROP DATABASE IF EXISTS {database} SYNC")
    tmp.cleanup()


if __name__ == "__main__":
    main()
