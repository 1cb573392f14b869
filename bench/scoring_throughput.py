"""Scoring throughput on CPU: raw embedding model vs each scorer vs all scorers together.

    nice -n 10 python bench/scoring_throughput.py [--n 512] [--threads 2] [--batch 16] [--rounds 3]

All measurements run on the same texts (short prompts from the shared development data). The
embedding cache is cleared before every timed pass so nothing is served from cache. Rounds
alternate raw / scorer passes and the median is reported, which keeps the comparison fair on a
shared, noisy machine. "heads only" = the scorer given precomputed embeddings (its own cost).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_texts(n: int) -> list[str]:
    """Distinct short texts: HateCheck cases and short benign/jailbreak prompts."""
    from training.data import data_root, load_hatecheck, load_jailbreak

    root = data_root()
    texts = list(dict.fromkeys(load_hatecheck(root).texts))
    texts += [t for t in load_jailbreak(root, "train").texts if len(t) < 300]
    out = list(dict.fromkeys(texts))
    step = max(1, len(out) // n)
    return out[::step][:n]


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16, help="embedding batch size")
    ap.add_argument("--chunk", type=int, default=64, help="records per score_batch call")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    from lightkeeper.processors.embedding import get_embedder
    from lightkeeper.processors.scoring.base import ScoreInput
    from lightkeeper.processors.scoring.registry import get_scorer

    emb = get_embedder(num_threads=args.threads, batch_size=args.batch)
    texts = load_texts(args.n)
    n = len(texts)
    scorers = {name: get_scorer(name) for name in ("toxicity", "injection")}
    chunks = [texts[i : i + args.chunk] for i in range(0, n, args.chunk)]
    emb.encode_uncached(texts[:32])  # warm-up

    def raw() -> None:
        for c in chunks:
            emb.encode_uncached(c)

    def one(name: str) -> Callable[[], None]:
        def run() -> None:
            emb.clear_cache()
            for c in chunks:
                scorers[name].score_batch([ScoreInput(text=t) for t in c])

        return run

    def together() -> None:
        emb.clear_cache()
        for c in chunks:
            vecs = emb.embed(c)  # once per event, shared
            items = [ScoreInput(text=t, embedding=v) for t, v in zip(c, vecs, strict=True)]
            for s in scorers.values():
                s.score_batch(items)

    precomputed = emb.encode_uncached(texts)

    def heads(name: str) -> Callable[[], None]:
        def run() -> None:
            for i in range(0, n, args.chunk):
                items = [
                    ScoreInput(text=t, embedding=v)
                    for t, v in zip(texts[i : i + args.chunk], precomputed[i : i + args.chunk], strict=True)
                ]
                scorers[name].score_batch(items)

        return run

    passes: dict[str, Callable[[], None]] = {"raw model": raw}
    passes.update({f"{k}": one(k) for k in scorers})
    passes["all together"] = together
    passes.update({f"{k} heads only": heads(k) for k in scorers})
    times: dict[str, list[float]] = {k: [] for k in passes}
    for _ in range(args.rounds):
        for k, fn in passes.items():
            times[k].append(timed(fn))

    raw_rate = n / statistics.median(times["raw model"])
    print(
        f"texts={n} threads={args.threads} embed_batch={args.batch} chunk={args.chunk} rounds={args.rounds}"
    )
    print(f"{'pass':<26}{'records/s':>12}{'vs raw':>10}")
    for k, ts in times.items():
        rate = n / statistics.median(ts)
        rel = f"{rate / raw_rate:9.1%}" if "heads" not in k else "        -"
        print(f"{k:<26}{rate:12.1f}{rel:>10}")
    print("(hallucination and pii are benchmarked by their own owners; pii needs no embedding)")


if __name__ == "__main__":
    main()
