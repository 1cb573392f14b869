"""Scoring throughput on CPU, torch float32 (sentence-transformers) vs ONNX int8 (the runtime's
encoder), side by side on the same texts, and how many detector decisions the int8 model flips.

    nice -n 10 python bench/scoring_throughput.py [--n 512] [--threads 2] [--batch 32] [--rounds 3]
        [--flip-texts 2000]

Passes (median of ``--rounds``, alternating backends so both see the same machine load; no
embedding cache): "raw" = the encoder alone; "toxicity+injection" = one embedding per text shared
by both scorers' heads. Texts: short prompts from the shared development data (HateCheck cases,
jailbreak prompts under 300 characters). Figures: texts/s (wall) and CPU ms per text (process
time, all threads). Decision flips: toxicity and injection scored on ``--flip-texts`` texts
(HateCheck, jailbreak train, any length) with float32 vs int8 embeddings; a flip is a text flagged
by one and not the other.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_texts(n: int, *, short_only: bool = True) -> list[str]:
    """Distinct texts: HateCheck cases and benign/jailbreak prompts (under 300 characters if
    ``short_only``), evenly sampled."""
    from training.data import data_root
    from training.data_injection import load_jailbreak
    from training.data_toxicity import load_hatecheck

    root = data_root()
    texts = list(dict.fromkeys(load_hatecheck(root).texts))
    texts += [t for t in load_jailbreak(root).texts if len(t) < 300 or not short_only]
    out = list(dict.fromkeys(texts))
    step = max(1, len(out) // n)
    return out[::step][:n]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def flips(embedders: dict[str, Any], scorers: dict[str, Any], texts: list[str]) -> list[str]:
    from lightkeeper.processors.scoring.base import ScoreInput

    vecs = {name: e.encode_uncached(texts) for name, e in embedders.items()}
    cos = np.sum(vecs["torch"] * vecs["onnx"], axis=1)
    lines = [f"cosine int8 vs float32 on {len(texts)} texts: mean {cos.mean():.4f} min {cos.min():.4f}"]
    for name, scorer in scorers.items():
        res = {
            b: scorer.score_batch([ScoreInput(text=t, embedding=v) for t, v in zip(texts, m, strict=True)])
            for b, m in vecs.items()
        }
        f32 = np.array([bool(r.flagged) for r in res["torch"]])
        i8 = np.array([bool(r.flagged) for r in res["onnx"]])
        s32 = np.array([r.score or 0.0 for r in res["torch"]])
        s8 = np.array([r.score or 0.0 for r in res["onnx"]])
        n_flip = int((f32 != i8).sum())
        lines.append(
            f"{name} {scorer.version}: {n_flip} flips of {len(texts)} ({n_flip / len(texts):.2%}); "
            f"flagged {int(f32.sum())} float32 / {int(i8.sum())} int8; |score diff| mean "
            f"{np.abs(s32 - s8).mean():.4f} max {np.abs(s32 - s8).max():.4f}"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32, help="embedding batch size")
    ap.add_argument("--chunk", type=int, default=64, help="records per score_batch call")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--flip-texts", type=int, default=2000)
    args = ap.parse_args()

    from lightkeeper.processors.embedding import Embedder
    from lightkeeper.processors.scoring.base import ScoreInput
    from lightkeeper.processors.scoring.registry import get_scorer

    embedders = {
        b: Embedder(backend=b, device="cpu", num_threads=args.threads, batch_size=args.batch, cache_size=0)
        for b in ("torch", "onnx")
    }
    texts = load_texts(args.n)
    n = len(texts)
    scorers = {name: get_scorer(name) for name in ("toxicity", "injection")}
    chunks = [texts[i : i + args.chunk] for i in range(0, n, args.chunk)]
    for e in embedders.values():
        e.encode_uncached(texts[:32])  # warm-up

    def raw(e: Any) -> Callable[[], None]:
        return lambda: [e.encode_uncached(c) for c in chunks]

    def together(e: Any) -> Callable[[], None]:
        def run() -> None:
            for c in chunks:
                vecs = e.encode_uncached(c)  # once per text, shared by the scorers
                items = [ScoreInput(text=t, embedding=v) for t, v in zip(c, vecs, strict=True)]
                for s in scorers.values():
                    s.score_batch(items)

        return run

    passes: dict[str, Callable[[], None]] = {}
    for kind, make in (("raw", raw), ("toxicity+injection", together)):
        for b, e in embedders.items():
            passes[f"{kind} {b}"] = make(e)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in passes}
    for _ in range(args.rounds):
        for k, fn in passes.items():
            times[k].append(timed(fn))

    print(
        f"texts={n} threads={args.threads} embed_batch={args.batch} chunk={args.chunk} rounds={args.rounds} "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'pass':<28}{'texts/s':>10}{'CPU ms/text':>13}{'vs torch':>10}")
    for k, ts in times.items():
        wall = statistics.median(t for t, _ in ts)
        cpu = statistics.median(c for _, c in ts)
        base = statistics.median(t for t, _ in times[k.rsplit(" ", 1)[0] + " torch"])
        print(f"{k:<28}{n / wall:10.1f}{1000 * cpu / n:13.2f}{base / wall:9.2f}x")
    if args.flip_texts:
        for line in flips(embedders, scorers, load_texts(args.flip_texts, short_only=False)):
            print(line)


if __name__ == "__main__":
    main()
