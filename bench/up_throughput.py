"""``lightkeeper up`` with every stage on (scores, drift, anomalies, alerts): stored scored events/s,
CPU ms per event, RSS and produce -> queryable latency, for each embedding backend on the same events.

    python bench/up_throughput.py [--backends torch,onnx] [--rate 250] [--seconds 40] [--burst 3000]

Each backend runs in its own process (an :class:`EmbeddedRuntime` on a fresh embedded store, no
HTTP: events are submitted to its queue the way the agent does). Events carry distinct real texts
from the shared development data (prompts: jailbreak / HateCheck cases under ``--prompt-chars``
characters, responses: HaluEval answers; one in five has two RAG context documents from a pool of
50), so the embedding cache only helps with the repeated documents. Two phases per backend:

* burst: ``--burst`` events at once; reported: events stored per second until all are stored
  (capacity; at most ``--cap-s``, what is left then is dropped from the queue).
* sustained: ``--rate`` events/s for ``--seconds``; reported: events stored per second over the
  window, CPU ms per stored event, latency from submit to the insert that holds the event and its
  scores (rows are queryable from then on) p50 / p95 / max over the events stored within
  ``--cap-s`` after the window, backlog left at the end of the window.

Every stored event is checked to have score rows. Results go to bench/results/up_throughput.json.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_texts(prompt_chars: int = 300) -> tuple[list[str], list[str], list[str]]:
    """(prompts, responses, documents), distinct, from the development data; prompts shorter
    than ``prompt_chars`` characters (0: any length)."""
    from training.data import data_root
    from training.data_injection import load_jailbreak
    from training.data_toxicity import load_hatecheck

    root = data_root()
    prompts = list(load_jailbreak(root).texts) + list(load_hatecheck(root).texts)
    responses: list[str] = []
    docs: list[str] = []
    for f in sorted((root / "hallucination" / "halueval_qa").glob("*.json")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                responses += [str(row.get("right_answer", "")), str(row.get("hallucinated_answer", ""))]
                docs.append(str(row.get("knowledge", "")))
    uniq = lambda xs: [x for x in dict.fromkeys(xs) if x.strip()]  # noqa: E731
    prompts = [p for p in prompts if not prompt_chars or len(p) < prompt_chars]
    return uniq(prompts), uniq(responses), uniq(docs)[:50]


Texts = tuple[list[str], list[str], list[str]]


def make_events(n: int, offset: int, texts: Texts) -> list[tuple[str, bytes]]:
    from datetime import UTC, datetime

    from lightkeeper.schemas.codec import encode_event
    from lightkeeper.schemas.events import LLMCallEvent

    prompts, responses, docs = texts
    out = []
    for j in range(offset, offset + n):
        event_id = f"00000000-0000-7000-8000-{j:012d}"
        data: dict[str, Any] = {
            "event_id": event_id,
            "app": f"app{j % 3}",
            "provider_name": "openai",
            "request_model": "gpt-4o-mini",
            "response_model": "gpt-4o-mini-2024-07-18",
            "user_id": f"u{j % 50}",
            "start_time": datetime.now(UTC),
            "duration_ms": 400.0 + j % 300,
            "http_status": 200,
            "usage": {"input_tokens": 500 + j % 700, "output_tokens": 100 + j % 200},
            "input_messages": [{"role": "user", "content": f"{prompts[j % len(prompts)]} (#{j})"}],
            "output": {"text": f"{responses[j % len(responses)]} (#{j})"},
        }
        if j % 5 == 0:
            pair = (docs[j % len(docs)], docs[(j * 7 + 3) % len(docs)])
            data["context_documents"] = [{"text": d} for d in pair]
        out.append((event_id, encode_event(LLMCallEvent.model_validate(data))))
    return out


def rss_mb() -> tuple[float, float]:
    fields = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def child(args: argparse.Namespace) -> dict[str, Any]:
    from lightkeeper.agent.settings import AgentSettings
    from lightkeeper.processors.settings import WorkerSettings
    from lightkeeper.runtime import EmbeddedRuntime

    tmp = Path(tempfile.mkdtemp(prefix="lk-bench-up-"))
    agent = AgentSettings(host="127.0.0.1", port=0, ensure_topics=False, publish_enabled=False, data_dir=tmp)
    worker_kw: dict[str, Any] = {
        "data_dir": tmp,
        "stages": ["scores", "drift", "anomalies", "alerts"],
        "alert_rules_inline": {
            "rules": [
                {
                    "name": "toxicity-rate-high",
                    "metric": "toxicity_rate",
                    "aggregate": "avg",
                    "window": "5m",
                    "op": ">",
                    "threshold": 0.5,
                    "group_by": ["app"],
                    "severity": "high",
                    "routes": [],
                }
            ]
        },
    }
    if args.batch_max:
        worker_kw["batch_max"] = args.batch_max
    worker = WorkerSettings(**worker_kw)
    texts = load_texts(args.prompt_chars)
    runtime = EmbeddedRuntime(agent, worker, query_port=None)
    t_load = time.perf_counter()
    await runtime.start()
    stage_names = [s.name for s in runtime.pipeline.stages] if runtime.pipeline else []
    submitted_at: dict[str, float] = {}
    stored_at: dict[str, float] = {}
    scored: set[str] = set()

    def hook(batch: Any) -> None:
        now = time.perf_counter()
        for ev in batch.events:
            stored_at[ev.event_id] = now
        for r in batch.records.get("scores", []):
            scored.add(r.event_id)

    runtime.on_batch(hook)
    # Warm-up (model load, first inserts, numpy/onnx first calls), not counted.
    for _event_id, value in make_events(60, 10_000_000, texts):
        runtime.queue.submit(None, value)
    await runtime.wait_idle(600)
    load_s = time.perf_counter() - t_load

    async def offer(events: list[tuple[str, bytes]], rate: float | None) -> None:
        t0 = time.perf_counter()
        for k, (event_id, value) in enumerate(events):
            if rate:
                due = t0 + k / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            submitted_at[event_id] = time.perf_counter()
            runtime.queue.submit(None, value)

    async def wait_stored(ids: list[str], cap_s: float) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < cap_s and not all(e in stored_at for e in ids[-50:]):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return time.perf_counter() - t0

    async def clear_backlog() -> int:
        """Drop what a slow backend left queued, then let the batch in progress finish."""
        left = len(runtime.queue._items)
        runtime.queue._items.clear()
        while runtime._in_flight:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return left

    # Burst phase: capacity (capped at --cap-s).
    burst = make_events(args.burst, 1_000_000, texts)
    burst_ids = [e for e, _ in burst]
    cpu0, t0 = time.process_time(), time.perf_counter()
    await offer(burst, None)
    burst_s = await wait_stored(burst_ids, args.cap_s)
    burst_cpu = time.process_time() - cpu0
    burst_stored = sum(1 for e in burst_ids if e in stored_at)
    blat = [stored_at[e] - submitted_at[e] for e in burst_ids if e in stored_at]
    burst_dropped = await clear_backlog()
    # Sustained phase: --rate events/s for --seconds, then at most --cap-s to drain.
    n = int(args.rate * args.seconds)
    events = make_events(n, 0, texts)
    ids = [e for e, _ in events]
    stored0, cpu0, t0 = len(stored_at), time.process_time(), time.perf_counter()
    await offer(events, args.rate)
    window_s = time.perf_counter() - t0
    stored_in_window = len(stored_at) - stored0
    cpu_window = time.process_time() - cpu0
    backlog = len(runtime.queue)
    await wait_stored(ids, args.cap_s)
    stored_total = sum(1 for e in ids if e in stored_at)
    cpu_s = time.process_time() - cpu0
    lat = [stored_at[e] - submitted_at[e] for e in ids if e in stored_at]
    result = {
        "stages": stage_names,
        "startup_and_warmup_s": round(load_s, 1),
        "burst": {
            "events": args.burst,
            "stored": burst_stored,
            "scored": sum(1 for e in burst_ids if e in scored),
            "seconds": round(burst_s, 1),
            "stored_per_s": round(burst_stored / burst_s, 1),
            "cpu_ms_per_event": round(1000 * burst_cpu / max(1, burst_stored), 2),
            "latency_p95_s": round(pct(blat, 0.95), 2),
            "left_unprocessed": burst_dropped,
        },
        "sustained": {
            "offered_per_s": args.rate,
            "seconds": round(window_s, 1),
            "stored_per_s_in_window": round(stored_in_window / window_s, 1),
            "stored": stored_total,
            "of": n,
            "scored": sum(1 for e in ids if e in scored),
            "backlog_at_end": backlog,
            "cpu_ms_per_event": round(1000 * cpu_s / max(1, stored_total), 2),
            "cpu_share_in_window": round(cpu_window / window_s, 2),
            "latency_s": {
                "p50": round(pct(lat, 0.5), 2),
                "p95": round(pct(lat, 0.95), 2),
                "max": round(max(lat, default=float("nan")), 2),
            },
        },
    }
    rss, peak = rss_mb()
    result["rss_mb"] = round(rss)
    result["peak_rss_mb"] = round(peak)
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="torch,onnx")
    ap.add_argument("--rate", type=float, default=250.0)
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--burst", type=int, default=3000)
    ap.add_argument("--cap-s", type=float, default=60.0, help="longest wait for a burst / backlog")
    ap.add_argument("--batch-max", type=int, default=0, help="worker.batch_max (0: the default)")
    ap.add_argument("--prompt-chars", type=int, default=300, help="prompts shorter than this (0: any)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        import logging

        logging.basicConfig(level=logging.WARNING)
        print(json.dumps(asyncio.run(child(args))), flush=True)
        os._exit(0)  # no graceful drain of what a slow backend left queued
    results: dict[str, Any] = {"load_average_before": os.getloadavg(), "args": vars(args)}
    for backend in args.backends.split(","):
        env = {**os.environ, "LIGHTKEEPER_EMBED_BACKEND": backend, "HF_HUB_OFFLINE": "1"}
        cmd = [sys.executable, __file__, "--child", *sys.argv[1:]]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{backend}: child failed")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        results[backend] = res
        s, b = res["sustained"], res["burst"]
        print(
            f"{backend:>6}: sustained {s['offered_per_s']:.0f}/s offered -> "
            f"{s['stored_per_s_in_window']}/s stored "
            f"({s['scored']}/{s['of']} scored), {s['cpu_ms_per_event']} ms CPU/event, latency p50 "
            f"{s['latency_s']['p50']} s p95 {s['latency_s']['p95']} s max {s['latency_s']['max']} s, "
            f"backlog {s['backlog_at_end']}; burst {b['events']} -> {b['stored_per_s']}/s "
            f"({b['cpu_ms_per_event']} ms CPU/event, p95 {b['latency_p95_s']} s); "
            f"RSS {res['rss_mb']} MB (peak {res['peak_rss_mb']} MB); stages {res['stages']}",
            flush=True,
        )
    results["load_average_after"] = os.getloadavg()
    print(f"load average before {results['load_average_before']}, after {results['load_average_after']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "up_throughput.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
