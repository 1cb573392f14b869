"""Drift detection benchmark: replay development prompts as a stream.

Sources (from ``$LIGHTKEEPER_DEV_DATA``, default ``shared/data`` beside the checkout; see its
README): ``qa`` (HaluEval questions, with the right answer as the response), ``dialogue``
(Q² knowledge-grounded dialogue messages and responses),
``jailbreak`` (jailbreak prompts), ``benign`` (benign prompts of the same data set) and ``tweets``
(Davidson tweets). Texts are embedded once with all-MiniLM-L6-v2 and cached in
``~/.cache/lightkeeper-bench/drift_embeddings.npz`` (outside git).

Streams are iid draws (with replacement) from one source; a *shift* switches the source.
Metadata per event: ``input_tokens`` (≈ words of the prompt, real), ``output_tokens``,
``duration_ms`` and ``cost_usd`` (synthetic, stationary gamma/lognormal draws), ``finish_reason``
(synthetic, stationary mix) and ``script`` (real, from the prompt text).

Prints: false alarms per 10,000 stationary events, events from shift start to detection, CPU
time per check at 1,000 vs 1,000 events, memory (state bytes) per tracked key.

Run: ``nice -n 10 python bench/drift.py [--stationary 10000] [--shifts 6]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = Path(os.environ.get("LIGHTKEEPER_DEV_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CACHE = Path(os.environ.get("LIGHTKEEPER_BENCH_CACHE", Path.home() / ".cache" / "lightkeeper-bench"))
SOURCES = ("qa", "dialogue", "jailbreak", "benign", "tweets")


def load_texts(max_tweets: int = 3000) -> dict[str, list[tuple[str, str]]]:
    """(prompt, response) pairs per source; response is "" when the source has none."""
    out: dict[str, list[tuple[str, str]]] = {s: [] for s in SOURCES}
    seen: set[str] = set()
    for name in ("qa_one-turn_data.json", "qa_multi-turn_data.json"):
        for line in (DATA / "hallucination/halueval_qa" / name).read_text().splitlines():
            row = json.loads(line)
            if row["question"] not in seen:
                seen.add(row["question"])
                out["qa"].append((row["question"], row["right_answer"]))
    with (DATA / "hallucination/q2_dialogue/cross_annotation.csv").open() as fh:
        for row in csv.DictReader(fh):
            out["dialogue"].append((row["message"], row["dodeca_response"]))
    for split in ("train", "test"):
        with (DATA / f"injection/jailbreak_classification/jailbreak_dataset_{split}.csv").open() as fh:
            for row in csv.DictReader(fh):
                out["jailbreak" if row["type"] == "jailbreak" else "benign"].append((row["prompt"], ""))
    with (DATA / "toxicity/davidson/labeled_data.csv").open() as fh:
        tweets = [row["tweet"] for row in csv.DictReader(fh)]
    random.Random(7).shuffle(tweets)
    out["tweets"] = [(t, "") for t in tweets[:max_tweets]]
    return out


def embed_all(texts: dict[str, list[tuple[str, str]]]) -> dict[str, np.ndarray]:
    """``{source}/prompt`` and ``{source}/response`` embedding matrices, cached on disk."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "drift_embeddings.npz"
    sizes = {s: len(v) for s, v in texts.items()}
    if path.exists():
        cached = dict(np.load(path))
        if all(cached.get(f"{s}/prompt", np.empty((0,))).shape[0] == n for s, n in sizes.items()):
            return cached
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from lightkeeper.processors.embedding import get_embedder

    emb = get_embedder()
    result: dict[str, np.ndarray] = {}
    for source, pairs in texts.items():
        t0 = time.perf_counter()
        result[f"{source}/prompt"] = emb.embed([p for p, _ in pairs])
        responses = [r for _, r in pairs]
        if any(responses):
            result[f"{source}/response"] = emb.embed(responses)
        print(f"embedded {source}: {len(pairs)} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    np.savez(path, **result)  # type: ignore[arg-type]
    return result


T0 = datetime(2026, 1, 1, tzinfo=UTC)
SHIFTS = [
    ("qa", "jailbreak"),
    ("jailbreak", "tweets"),
    ("tweets", "qa"),
    ("qa", "dialogue"),
    ("benign", "jailbreak"),
    ("dialogue", "benign"),
    # partial shifts: a quarter of the traffic changes
    ("qa", "qa:0.75,jailbreak:0.25"),
    ("mix", "qa:0.15,dialogue:0.15,benign:0.15,tweets:0.15,jailbreak:0.4"),
]
MIX = ",".join(f"{s}:0.2" for s in SOURCES)


class Stream:
    """iid draws from one source with synthetic stationary call metadata."""

    def __init__(
        self, texts: dict[str, list[tuple[str, str]]], embs: dict[str, np.ndarray], seed: int
    ) -> None:
        from lightkeeper.processors.drift.observation import script_of

        self.texts, self.embs = texts, embs
        self.rng = np.random.default_rng(seed)
        self.i = 0
        self.scripts = {s: [script_of(p) for p, _ in pairs] for s, pairs in texts.items()}

    def take(self, spec: str, n: int) -> list:
        """``spec``: a source, ``mix`` (all sources alike) or ``src:weight,src:weight``."""
        spec = MIX if spec == "mix" else spec
        if ":" not in spec:
            return self._take(spec, n)
        names, weights = zip(
            *((p.split(":")[0], float(p.split(":")[1])) for p in spec.split(",")), strict=True
        )
        picks = self.rng.choice(len(names), size=n, p=np.asarray(weights) / sum(weights))
        return [obs for k in picks for obs in self._take(names[k], 1)]

    def _take(self, source: str, n: int) -> list:
        from lightkeeper.processors.drift import DriftObservation

        rng, pairs = self.rng, self.texts[source]
        prompts = self.embs[f"{source}/prompt"]
        responses = self.embs.get(f"{source}/response")
        out = []
        for j in rng.integers(0, len(pairs), n):
            prompt, response = pairs[j]
            out_tokens = float(rng.gamma(2.0, 60.0))
            in_tokens = float(len(prompt.split()) * 1.3 + 20)
            finish = rng.choice(["stop", "length", "tool_calls"], p=[0.92, 0.06, 0.02])
            out.append(
                DriftObservation(
                    app="bench",
                    model="m",
                    event_time=T0 + timedelta(seconds=self.i),
                    prompt_embedding=prompts[j],
                    response_embedding=None if responses is None else responses[j],
                    metadata={
                        "input_tokens": in_tokens,
                        "output_tokens": out_tokens,
                        "duration_ms": 150 + 9 * out_tokens * float(rng.lognormal(0, 0.2)),
                        "cost_usd": (in_tokens * 0.5 + out_tokens * 1.5) / 1e6,
                        "prompt_chars": len(prompt),
                        "finish_reason": str(finish),
                        "error_type": "rate_limit" if rng.random() < 0.01 else "none",
                        "tool_use": "yes" if finish == "tool_calls" else "no",
                        "script": self.scripts[source][j],
                    },
                    prompt=prompt[:200],
                    response=response[:200],
                )
            )
            self.i += 1
        return out


def feed(monitor, obs: list, chunk: int = 50) -> list[tuple[int, object]]:
    """Observe in batches; returns (index of the last event of the batch, record)."""
    out = []
    for k in range(0, len(obs), chunk):
        for rec in monitor.observe(obs[k : k + chunk]):
            out.append((k + min(chunk, len(obs) - k) - 1, rec))
    return out


def episodes(records: list[tuple[int, object]]) -> dict[str, int]:
    """Drift episodes (transitions into drifted) per target family."""
    state: dict[str, bool] = {}
    count: dict[str, int] = {}
    for _, rec in records:
        fam = rec.target.split(":")[0]
        if rec.drifted and not state.get(fam):
            count[fam] = count.get(fam, 0) + 1
        state[fam] = rec.drifted
    return count


def main() -> int:
    from lightkeeper.processors.drift import DriftConfig, DriftMonitor
    from lightkeeper.processors.drift.embedding_drift import embedding_drift
    from lightkeeper.processors.drift.metadata_drift import metadata_drift

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stationary", type=int, default=6000, help="stationary events per source")
    ap.add_argument("--post-shift", type=int, default=600, help="events after each shift")
    ap.add_argument("--step", type=int, default=None)
    ap.add_argument("--current-size", type=int, default=None)
    ap.add_argument("--consecutive", type=int, default=None)
    ap.add_argument("--alpha", type=float, default=None)
    ap.add_argument("--pca", type=int, default=None)
    ap.add_argument("--skip-stationary", action="store_true")
    args = ap.parse_args()

    texts = load_texts()
    embs = embed_all(texts)
    windows: dict[str, object] = {}
    if args.step:
        windows["step"] = args.step
    if args.current_size:
        windows["current_size"] = args.current_size
    thresholds: dict[str, object] = {}
    if args.consecutive:
        thresholds["consecutive"] = args.consecutive
    if args.alpha:
        thresholds["embedding_alpha"] = thresholds["metadata_alpha"] = args.alpha
    if args.pca:
        thresholds["pca_components"] = args.pca
    cfg = DriftConfig.build({"windows": windows, "thresholds": thresholds})
    w, th = cfg.windows, cfg.thresholds
    print(
        f"config: reference {w.reference_mode} {w.reference_size}, current {w.current_size} step {w.step}, "
        f"method {th.embedding_method} alpha {th.embedding_alpha} (metadata {th.metadata_alpha}), "
        f"consecutive {th.consecutive}, pca {th.pca_components}"
    )
    stream = Stream(texts, embs, seed=11)

    # 1. false alarms on stationary streams (after the reference is complete)
    if not args.skip_stationary:
        total_events, alarms, drifted_records, checks, positives = 0, {}, 0, 0, 0
        t_cpu = time.process_time()
        for source in (*SOURCES, "mix"):
            mon = DriftMonitor(cfg)
            feed(mon, stream.take(source, w.reference_size))
            recs = feed(mon, stream.take(source, args.stationary))
            total_events += args.stationary
            checks += mon.counters["checks"]
            drifted_records += sum(1 for _, r in recs if r.drifted)
            positives += sum(1 for _, r in recs if r.score > r.threshold)
            for fam, n in episodes(recs).items():
                alarms[fam] = alarms.get(fam, 0) + n
            print(
                f"  stationary {source:9s}: {args.stationary} events, {mon.counters['checks']} checks, "
                f"false alarms {episodes(recs) or 0}"
            )
        cpu = time.process_time() - t_cpu
        n_alarms = sum(alarms.values())
        per_event_ms = cpu / (total_events + (len(SOURCES) + 1) * w.reference_size) * 1e3
        print(
            f"false alarms per 10,000 stationary events: {n_alarms * 10000 / total_events:.2f} "
            f"({n_alarms} alarms {alarms}, {drifted_records} drifted records, {total_events} events, "
            f"{checks} checks, {positives} single positive target-checks before the consecutive rule; "
            f"CPU {cpu:.1f}s = {per_event_ms:.2f} ms/event)"
        )

    # 2. detection delay after a shift
    delays: dict[str, list[int | None]] = {"any": [], "prompt_embedding": [], "metadata": []}
    pre_alarms = 0
    for a, b in SHIFTS:
        mon = DriftMonitor(cfg)
        # reference, then 500 stationary events (the first checks need a full current window)
        pre = episodes(feed(mon, stream.take(a, w.reference_size + 500)))
        pre_alarms += sum(pre.values())
        recs = feed(mon, stream.take(b, args.post_shift))
        first: dict[str, int] = {}
        for idx, rec in recs:
            fam = rec.target.split(":")[0]
            if rec.drifted and fam not in first:
                first[fam] = idx + 1
        first_any = min(first.values()) if first else None
        delays["any"].append(first_any)
        delays["prompt_embedding"].append(first.get("prompt_embedding"))
        delays["metadata"].append(first.get("metadata"))
        hit = next((r for _, r in recs if r.drifted and r.target == "prompt_embedding"), None)
        example = hit.examples[:1] if hit else []
        terms = hit.top_features if hit else []
        print(
            f"  shift {a:>9.9s} -> {b:.40s}: detected after {first} events "
            f"{'(pre-shift alarms ' + str(pre) + ') ' if pre else ''}; terms {terms}; example {example!r:.80}"
        )
    for fam, vals in delays.items():
        found = [v for v in vals if v is not None]
        print(
            f"events from shift start to detection [{fam}]: "
            f"{', '.join('missed' if v is None else str(v) for v in vals)}"
            + (f" (median {int(np.median(found))}, max {max(found)})" if found else "")
        )
    pre_events = len(SHIFTS) * max(0, 500 - w.current_size)
    rate = f"{pre_alarms * 10000 / pre_events:.2f} per 10,000" if pre_events else "no pre-shift check"
    print(
        f"false alarms in the pre-shift stationary segments: {pre_alarms} in {pre_events} checked events "
        f"({rate})"
    )

    # 3. CPU per check, 1,000 vs 1,000
    rng = np.random.default_rng(3)
    ref = embs["qa/prompt"][rng.integers(0, 500, 1000)]
    cur = embs["qa/prompt"][rng.integers(0, 500, 1000)]
    embedding_drift(ref[:100], cur[:100])  # warm imports
    for method in ("model", "mmd"):
        times = []
        for _ in range(5):
            t = time.process_time()
            embedding_drift(ref, cur, method=method, pca_components=th.pca_components)
            times.append(time.process_time() - t)
        print(
            f"CPU per embedding check ({method}) at 1,000 vs 1,000: median {np.median(times):.3f}s "
            f"(min {min(times):.3f}s)"
        )
    mon = DriftMonitor(cfg)
    obs = stream.take("qa", 2000)
    feed(mon, obs)
    state = mon.key_state(mon.keys()[0])
    num = state.reference.samples.num[: state.reference.samples.n]
    cats = state.reference.samples.cat[: state.reference.samples.n]
    times = []
    for _ in range(5):
        t = time.process_time()
        metadata_drift(
            list(cfg.numeric_features),
            num,
            num[::-1].copy(),
            list(cfg.categorical_features),
            cats,
            cats[::-1],
        )
        times.append(time.process_time() - t)
    print(f"CPU per metadata check (all features) at 1,000 vs 1,000: median {np.median(times):.3f}s")
    blob = state.to_bytes()
    print(
        f"memory per tracked key: {state.nbytes() / 1024:.0f} KiB in windows "
        f"(reference {w.reference_size} + current {w.current_size}); "
        f"serialized state {len(blob) / 1024:.0f} KiB"
    )
    return 0


if __name__ == "__main__":
    if "--prepare" in sys.argv:
        embed_all(load_texts())
        sys.exit(0)
    sys.exit(main())
