"""How much the groundedness scorer adds on top of the embeddings it needs.

Scores batches of 64 RAG-like events (a HaluEval document + 3 documents drawn from 40 popular
ones, so context documents repeat across events as in real RAG traffic; the response is two
sentences) and splits the wall time into "embedding" (the shared Embedder, content-hash cached)
and "everything else" (sentence splitting, lexical analysis, features, model, details).

Run: ``HF_HUB_OFFLINE=1 nice -n 10 python bench/hallucination_overhead.py [--batches 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import numpy as np

from lightkeeper.processors.scoring.base import ScoreInput
from lightkeeper.processors.scoring.hallucination import HallucinationScorer

DATA = (
    Path(os.environ.get("LIGHTKEEPER_DEV_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    / "hallucination"
    / "halueval_qa"
    / "qa_multi-turn_data.json"
)


def events(rows: list[dict[str, str]], start: int, n: int, rng: random.Random) -> list[ScoreInput]:
    """``n`` events from ``rows[start:]`` with repeated popular context documents."""
    popular = [r["knowledge"] for r in rows[:40]]
    out = []
    for r in rows[start : start + n]:
        ctx = [r["knowledge"], *rng.sample(popular, 3)]
        text = f"{r['hallucinated_answer']} {r['right_answer']} is the answer."
        out.append(ScoreInput(text=text, context=ctx, question=r["question"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=3)
    args = ap.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    from lightkeeper.processors.embedding import get_embedder

    emb = get_embedder()
    spent = [0.0]

    def timed_embed(texts: list[str]) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return emb.embed(texts)
        finally:
            spent[0] += time.perf_counter() - t0

    scorer = HallucinationScorer(embed=timed_embed)
    rng = random.Random(0)
    scorer.score_batch(events(rows, 0, 8, rng))  # warm-up (model load)
    for b in range(args.batches):
        batch = events(rows, 100 + 64 * b, 64, rng)
        spent[0] = 0.0
        t0 = time.perf_counter()
        scorer.score_batch(batch)
        total = time.perf_counter() - t0
        other = total - spent[0]
        print(
            f"batch of 64: total {total:.3f}s  embedding {spent[0]:.3f}s  other {other:.3f}s  "
            f"({other / max(spent[0], 1e-9) * 100:.1f}% of embedding, {other / 64 * 1000:.2f} ms/event)"
        )


if __name__ == "__main__":
    main()
