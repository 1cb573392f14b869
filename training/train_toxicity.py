"""Train the toxicity detector: ``make train-toxicity`` (= ``python -m training.train_toxicity``).

Six sources (training/data_toxicity.py), each capped at ``MAX_PER_CLASS`` texts per class. Every
candidate head (training/text_heads.py) and the TF-IDF + LR baseline are scored by
leave-one-source-out AUROC; the best mean wins, is refitted on all sources and written as
``processors/artifacts/toxicity-v<N>.joblib`` with its card. The threshold maximizes the mean
(over held-out sources) balanced accuracy of the chosen candidate's held-out scores.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from training.common import balanced_threshold, loso_table, write_artifact
from training.data import MAX_PER_CLASS, data_root
from training.data_toxicity import load_toxicity_sources
from training.embed_cache import EmbeddingCache
from training.loso import LosoResult
from training.text_detector import fit_final, select_head, stack_sources
from training.text_heads import CANDIDATES

__all__ = ["VERSION", "train"]

log = logging.getLogger(__name__)

VERSION = 5


def rates_at(res: LosoResult, threshold: float) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name in res.y:
        y, s = res.y[name], res.scores[name]
        out[name] = {
            "recall_at_threshold": float(np.mean(s[y == 1] >= threshold)) if np.any(y == 1) else float("nan"),
            "fpr_at_threshold": float(np.mean(s[y == 0] >= threshold)) if np.any(y == 0) else float("nan"),
            "n": float(len(y)),
        }
    return out


def train(
    data_dir: str | None = None,
    out_dir: str | None = None,
    version: int = VERSION,
    cap: int = MAX_PER_CLASS,
    heads: list[str] | None = None,
) -> dict[str, Any]:
    root = data_root(data_dir)
    sources = load_toxicity_sources(root, cap)
    data = stack_sources(sources, EmbeddingCache())
    sel = select_head(data, names=heads)
    assert sel.baseline is not None
    chosen = sel.candidates[sel.chosen]
    threshold = balanced_threshold(chosen)
    head = fit_final(sel.chosen, data)
    table = loso_table(chosen.auroc(), sel.baseline.auroc(), rates_at(chosen, threshold))
    card = {
        "head": sel.chosen,
        "threshold": threshold,
        "threshold_rule": "max mean over held-out sources of balanced accuracy (LOSO scores)",
        "max_per_class_per_source": cap,
        "loso": table,
        "loso_mean_auroc": {n: round(r.mean_auroc(), 4) for n, r in sel.candidates.items()},
        "baseline": "word 1-2-gram TF-IDF + logistic regression, same folds",
        "data": {n: ds.sources for n, ds in sources.items()},
        "train_rows": {n: {"n": len(ds), "positives": int(ds.y.sum())} for n, ds in sources.items()},
        "command": "make train-toxicity" + (f" HEADS='{' '.join(heads)}'" if heads else ""),
    }
    model = {"clf": head.clf, "tfidf": head.tfidf, "threshold": threshold}
    write_artifact("toxicity", version, model, card, Path(out_dir) if out_dir else None)
    print(json.dumps({"chosen": sel.chosen, "threshold": threshold, "loso": table}, indent=1))
    return card


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir")
    ap.add_argument("--out-dir")
    ap.add_argument("--version", type=int, default=VERSION)
    ap.add_argument("--cap", type=int, default=MAX_PER_CLASS)
    ap.add_argument("--heads", nargs="*", choices=list(CANDIDATES), help="candidate heads (default: all)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args.data_dir, args.out_dir, args.version, args.cap, args.heads)


if __name__ == "__main__":
    main()
