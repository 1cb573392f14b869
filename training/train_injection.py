"""Train the prompt-injection detector: ``make train-injection`` (= ``python -m training.train_injection``).

Sources (training/data_injection.py): jailbreak_classification, s_labs, neuralchemy (each capped
at ``CAP`` texts per class, jailbreak_classification's long prompts at 300), yanismiraoui (all
injections) and BIPIA (attacks planted in email / table / code contexts; trained on as pieces).
Leave-one-source-out folds:

- jailbreak_classification, s_labs, neuralchemy: train on every other source, AUROC on the
  held-out one;
- yanismiraoui has no negatives: its held-out injections are paired with neuralchemy's benign
  prompts (both left out of training) for AUROC, and its recall at the shipped threshold is
  reported;
- bipia: train on the four direct sources only; each held-out document (clean or attacked) is
  scored as the runtime does, the highest piece (``context_chunks``), AUROC over documents.

The candidate with the best mean held-out AUROC is refitted on all sources. Prompt threshold:
the lowest with <= 1 % of held-out benign prompts flagged on every source that has them. Context
threshold: the lowest with <= 1 % of held-out clean BIPIA documents flagged (never below the
prompt threshold).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lightkeeper.processors.scoring._chunks import context_chunks
from training.common import loso_table, write_artifact
from training.data import data_root
from training.data_injection import LONG_TEXT_CAPS, BipiaSet, load_bipia, load_direct_sources
from training.embed_cache import EmbeddingCache
from training.loso import auroc
from training.text_detector import (
    Stacked,
    baseline_fit_predict,
    candidate_fit_predict,
    fit_final,
    stack_sources,
)
from training.text_heads import CANDIDATES

__all__ = ["VERSION", "train"]

log = logging.getLogger(__name__)

VERSION = 4
CAP = 500
MAX_FPR = 0.01
PAIR_NEGATIVES = "neuralchemy"


def _fpr_threshold(negatives: np.ndarray) -> float:
    """Lowest threshold flagging at most MAX_FPR of ``negatives``."""
    s = np.sort(negatives)
    k = int(np.floor(MAX_FPR * len(s)))
    return float(np.nextafter(s[len(s) - k - 1], 1.0))


def _round_up(value: float) -> float:
    """``value`` rounded UP to 4 decimals (rounding down would flag more than allowed)."""
    return math.ceil(value * 10_000) / 10_000


class InjectionLoso:
    """Held-out scores of one candidate (or the baseline) on every fold."""

    def __init__(self, data: Stacked, bipia: BipiaSet, cache: EmbeddingCache) -> None:
        self.data = data
        self.bipia = bipia
        self.bipia_chunks = list(dict.fromkeys(bipia.chunks))
        self.bipia_chunk_emb = cache.embed(self.bipia_chunks)
        self.src = data.source_of

    def run(
        self,
        fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
        predict_bipia: Callable[[np.ndarray], np.ndarray],
    ) -> dict[str, Any]:
        y, src = self.data.y, self.src
        out: dict[str, Any] = {"y": {}, "scores": {}}
        for name in ("jailbreak_classification", "s_labs", "neuralchemy"):
            train, test = np.flatnonzero(src != name), np.flatnonzero(src == name)
            out["y"][name], out["scores"][name] = y[test], fit_predict(train, test)
        pair = (src == PAIR_NEGATIVES) & (y == 0)
        test = np.flatnonzero((src == "yanismiraoui") | pair)
        train = np.flatnonzero((src != "yanismiraoui") & ~pair)
        out["y"]["yanismiraoui"], out["scores"]["yanismiraoui"] = y[test], fit_predict(train, test)
        chunk_scores = predict_bipia(np.flatnonzero(src != "bipia"))
        score_of = dict(zip(self.bipia_chunks, chunk_scores.tolist(), strict=True))
        doc_scores = np.asarray(
            [max(score_of[c] for c in context_chunks(doc)[0]) for doc in self.bipia.documents]
        )
        out["y"]["bipia"], out["scores"]["bipia"] = self.bipia.y, doc_scores
        out["auroc"] = {n: auroc(out["y"][n], out["scores"][n]) for n in out["y"]}
        return out


def train(
    data_dir: str | None = None,
    out_dir: str | None = None,
    version: int = VERSION,
    cap: int = CAP,
    heads: list[str] | None = None,
) -> dict[str, Any]:
    root = data_root(data_dir)
    cache = EmbeddingCache()
    sources = load_direct_sources(root, cap)
    bipia = load_bipia(root)
    sources["bipia"] = bipia.chunk_set()
    data = stack_sources(sources, cache)
    loso = InjectionLoso(data, bipia, cache)

    def baseline_bipia(train: np.ndarray) -> np.ndarray:
        from training.baselines import tfidf_lr_fit_predict
        from training.loso import balanced_weights

        texts, y, src, _ = data.take(train)
        return tfidf_lr_fit_predict(texts, y, balanced_weights(src, y), loso.bipia_chunks)

    def candidate_bipia(name: str) -> Callable[[np.ndarray], np.ndarray]:
        def run(train: np.ndarray) -> np.ndarray:
            from training.loso import balanced_weights
            from training.text_heads import fit_head

            texts, y, src, emb = data.take(train)
            head = fit_head(name, texts, emb, y, balanced_weights(src, y))
            return head.predict(loso.bipia_chunks, loso.bipia_chunk_emb)

        return run

    baseline = loso.run(lambda tr, te: baseline_fit_predict(data, tr, te), baseline_bipia)
    log.info("baseline: %s", baseline["auroc"])
    results: dict[str, dict[str, Any]] = {}
    for name in heads or list(CANDIDATES):
        results[name] = loso.run(
            lambda tr, te, n=name: candidate_fit_predict(n, data, tr, te), candidate_bipia(name)
        )
        log.info("%s: %s", name, results[name]["auroc"])
    chosen = max(results, key=lambda n: float(np.mean(list(results[n]["auroc"].values()))))
    res = results[chosen]
    negatives = [
        res["scores"][n][res["y"][n] == 0] for n in ("jailbreak_classification", "s_labs", "neuralchemy")
    ]
    threshold = _round_up(max(_fpr_threshold(s) for s in negatives))
    bipia_clean = res["scores"]["bipia"][res["y"]["bipia"] == 0]
    context_threshold = _round_up(max(threshold, _fpr_threshold(bipia_clean)))
    extra: dict[str, dict[str, float]] = {}
    for n in res["y"]:
        t = context_threshold if n == "bipia" else threshold
        y, s = res["y"][n], res["scores"][n]
        extra[n] = {"threshold": t, "recall_at_threshold": float(np.mean(s[y == 1] >= t))}
        extra[n]["fpr_at_threshold"] = float(np.mean(s[y == 0] >= t))
    head = fit_final(chosen, data)
    table = loso_table(res["auroc"], baseline["auroc"], extra)
    card = {
        "head": chosen,
        "threshold": threshold,
        "context_threshold": context_threshold,
        "threshold_rule": "<= 1 % of held-out benign prompts flagged on every source; context: <= 1 % of "
        "held-out clean BIPIA documents",
        "max_per_class_per_source": {"default": cap, **LONG_TEXT_CAPS},
        "bipia_contexts_per_task": 50,
        "loso": table,
        "loso_mean_auroc": {
            n: round(float(np.mean(list(r["auroc"].values()))), 4) for n, r in results.items()
        },
        "yanismiraoui_fold": f"its injections vs {PAIR_NEGATIVES} benign prompts (both held out)",
        "bipia_fold": "documents scored by their highest piece; trained on the four direct sources",
        "baseline": "word 1-2-gram TF-IDF + logistic regression, same folds",
        "data": {n: ds.sources for n, ds in sources.items()},
        "train_rows": {n: {"n": len(ds), "positives": int(ds.y.sum())} for n, ds in sources.items()},
        "command": "make train-injection" + (f" HEADS='{' '.join(heads)}'" if heads else ""),
    }
    model = {
        "clf": head.clf,
        "tfidf": head.tfidf,
        "threshold": threshold,
        "context_threshold": context_threshold,
    }
    write_artifact("injection", version, model, card, Path(out_dir) if out_dir else None)
    print(
        json.dumps(
            {"chosen": chosen, "threshold": threshold, "context_threshold": context_threshold, "loso": table},
            indent=1,
        )
    )
    return card


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir")
    ap.add_argument("--out-dir")
    ap.add_argument("--version", type=int, default=VERSION)
    ap.add_argument("--cap", type=int, default=CAP)
    ap.add_argument("--heads", nargs="*", choices=list(CANDIDATES), help="candidate heads (default: all)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args.data_dir, args.out_dir, args.version, args.cap, args.heads)


if __name__ == "__main__":
    main()
