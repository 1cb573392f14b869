"""Compare injection artifacts on the same held-out data (``python -m
training.eval_injection ART [ART ...] [--probe FILE]``), or measure the CPU cost of
their heads against the embedding (``--head-cost``).

Held-out sets (never trained on by any shipped version): the jailbreak_classification test
split; the odd halves of the hand-written lists of :mod:`training.augment_injection`
and :mod:`training.augment_injection_v3` (the v3 lists were written for v3: weak
evidence); the held-out clean texts of other sources (:func:`training.train_injection._benign`);
optionally a probe JSON-lines file (``text`` and ``label`` 0/1 per line). Per set: n, AUROC where
both classes are present, and the flag rate at each artifact's own threshold (recall for attacks,
FPR for benign prompts). Embeddings come from the training cache.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from lightkeeper.processors.scoring.base import ScoreInput
from lightkeeper.processors.scoring.injection import InjectionScorer
from training import augment_injection as aug
from training import augment_injection_v3 as aug3
from training.common import embed_cached

__all__ = ["head_cost", "heldout_sets", "main", "score_sets"]


def _odd(items: list[str]) -> list[str]:
    return aug.split_even_odd(items)[1]


def heldout_sets(
    data_dir: str | None = None, probe: str | None = None
) -> dict[str, tuple[list[str], list[int]]]:
    """Set name -> (texts, labels 1 = attack) of every held-out set described in the module doc."""
    from training.data import data_root, load_jailbreak
    from training.train_injection import _benign

    root = data_root(data_dir)
    te = load_jailbreak(root, "test")
    sets: dict[str, tuple[list[str], list[int]]] = {
        "jailbreak_test": (list(te.texts), [int(v) for v in te.y]),
        "handwritten_v2_odd": (
            _odd(aug.ATTACK_EXAMPLES) + _odd(aug.BENIGN_TRICKY) + _odd(aug.BENIGN_PLAIN),
            [1] * len(_odd(aug.ATTACK_EXAMPLES))
            + [0] * (len(_odd(aug.BENIGN_TRICKY)) + len(_odd(aug.BENIGN_PLAIN))),
        ),
        "multilingual_v3_odd": (
            _odd(aug3.ML_ATTACKS) + _odd(aug3.ML_BENIGN),
            [1] * len(_odd(aug3.ML_ATTACKS)) + [0] * len(_odd(aug3.ML_BENIGN)),
        ),
        "english_v3_odd": (
            _odd(aug3.EN_ATTACKS) + _odd(aug3.EN_HARD_NEGATIVES),
            [1] * len(_odd(aug3.EN_ATTACKS)) + [0] * len(_odd(aug3.EN_HARD_NEGATIVES)),
        ),
    }
    _, held = _benign(root, np.zeros((1, 384), np.float32))
    for name, (texts, _feats) in held.items():
        sets[f"clean_{name}"] = (list(texts), [0] * len(texts))
    if probe:
        rows = [json.loads(line) for line in Path(probe).read_text().splitlines() if line.strip()]
        sets["probe"] = ([r["text"] for r in rows], [int(r["label"]) for r in rows])
    return sets


def score_sets(artifact: str, sets: dict[str, tuple[list[str], list[int]]]) -> dict[str, dict[str, Any]]:
    """Per set: n, positives, AUROC (both classes present), recall and FPR at the threshold."""
    from sklearn.metrics import roc_auc_score

    scorer = InjectionScorer(artifact_path=artifact)
    out: dict[str, dict[str, Any]] = {"_model": {"version": scorer.version, "threshold": scorer.threshold}}
    for name, (texts, labels) in sets.items():
        emb = embed_cached(f"inj_eval_{name}", texts)
        res = scorer.score_batch([ScoreInput(text=t, embedding=e) for t, e in zip(texts, emb, strict=True)])
        p = np.asarray([r.score for r in res], dtype=float)
        y = np.asarray(labels)
        row: dict[str, Any] = {"n": len(y), "positives": int(y.sum())}
        if 0 < y.sum() < len(y):
            row["auroc"] = round(float(roc_auc_score(y, p)), 4)
        if y.sum():
            row["recall"] = round(float(np.mean(p[y == 1] >= scorer.threshold)), 4)
        if (y == 0).any():
            row["fpr"] = round(float(np.mean(p[y == 0] >= scorer.threshold)), 4)
        out[name] = row
    return out


def head_cost(artifacts: list[str], texts: list[str], rounds: int = 3) -> dict[str, float]:
    """CPU time (``time.process_time``, all threads) per record in ms: the raw embedding
    (``encode_uncached``) and each artifact's head (``score_batch`` in chunks of 64 with
    precomputed embeddings; best of ``rounds``). CPU time is less distorted by other load than
    wall time."""
    import time

    from lightkeeper.processors.embedding import get_embedder

    emb = get_embedder()
    t0 = time.process_time()
    vecs = emb.encode_uncached(texts)
    out = {"embedding_ms": 1e3 * (time.process_time() - t0) / len(texts)}
    items = [ScoreInput(text=t, embedding=v) for t, v in zip(texts, vecs, strict=True)]
    for art in artifacts:
        scorer = InjectionScorer(artifact_path=art, embedder=emb)
        scorer.score_batch(items[:64])
        best = float("inf")
        for _ in range(rounds):
            t0 = time.process_time()
            for i in range(0, len(items), 64):
                scorer.score_batch(items[i : i + 64])
            best = min(best, time.process_time() - t0)
        out[f"{scorer.version}_head_ms"] = 1e3 * best / len(texts)
    return {k: round(v, 4) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    """Print one JSON object per artifact (and a compact table) to stdout."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("artifacts", nargs="+")
    ap.add_argument("--probe", help="JSON lines with text and label (0/1)")
    ap.add_argument("--data-dir")
    ap.add_argument("--head-cost", action="store_true", help="only measure CPU time per record")
    args = ap.parse_args(argv)
    if args.head_cost:
        from training.data import data_root, load_jailbreak

        te = load_jailbreak(data_root(args.data_dir), "test").texts
        for name, texts in (
            ("short", [t for t in te if len(t) < 300]),
            ("long", [t for t in te if len(t) >= 1000]),
        ):
            cost = head_cost(args.artifacts, texts)
            share = {
                k: f"{100 * v / cost['embedding_ms']:.1f} %" for k, v in cost.items() if k != "embedding_ms"
            }
            print(f"{name} (n={len(texts)}): {cost} head/embedding: {share}")
        return 0
    sets = heldout_sets(args.data_dir, args.probe)
    results = {a: score_sets(a, sets) for a in args.artifacts}
    print(json.dumps(results, indent=1))
    for name in sets:
        cells = []
        for a in args.artifacts:
            r = results[a][name]
            cells.append(" ".join(f"{k}={r[k]}" for k in ("auroc", "recall", "fpr") if k in r))
        print(f"{name:28s} n={len(sets[name][0]):4d} | " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
