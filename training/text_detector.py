"""LOSO model selection for the text detectors (toxicity, injection): every candidate head of
:mod:`training.text_heads` and the TF-IDF + LR baseline are scored on each held-out source; the
candidate with the best mean held-out AUROC is refitted on all sources."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from training.baselines import tfidf_lr_fit_predict
from training.data import LabeledTexts
from training.embed_cache import EmbeddingCache
from training.loso import Fold, LosoResult, balanced_weights, run_loso, source_folds
from training.text_heads import CANDIDATES, FittedHead, fit_head

__all__ = ["Selection", "Stacked", "fit_final", "select_head", "stack_sources"]

log = logging.getLogger(__name__)


@dataclass
class Stacked:
    """All sources' texts in one list with labels, source names and embeddings."""

    texts: list[str]
    y: np.ndarray
    source_of: np.ndarray
    emb: np.ndarray

    def take(self, idx: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        return [self.texts[i] for i in idx], self.y[idx], self.source_of[idx], self.emb[idx]


def stack_sources(sources: Mapping[str, LabeledTexts], cache: EmbeddingCache) -> Stacked:
    texts: list[str] = []
    ys: list[np.ndarray] = []
    names: list[str] = []
    for name, ds in sources.items():
        texts += ds.texts
        ys.append(ds.y)
        names += [name] * len(ds)
    return Stacked(texts, np.concatenate(ys), np.asarray(names), cache.embed(texts))


@dataclass
class Selection:
    """LOSO results of every candidate and of the baseline, and the chosen candidate."""

    candidates: dict[str, LosoResult] = field(default_factory=dict)
    baseline: LosoResult | None = None
    chosen: str = ""


def candidate_fit_predict(name: str, data: Stacked, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    texts, y, src, emb = data.take(train)
    head = fit_head(name, texts, emb, y, balanced_weights(src, y))
    test_texts, _, _, test_emb = data.take(test)
    return head.predict(test_texts, test_emb)


def baseline_fit_predict(data: Stacked, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    texts, y, src, _ = data.take(train)
    return tfidf_lr_fit_predict(texts, y, balanced_weights(src, y), [data.texts[i] for i in test])


def select_head(
    data: Stacked, folds: Sequence[Fold] | None = None, names: Sequence[str] | None = None
) -> Selection:
    """LOSO every candidate in ``names`` (default: all) and the baseline; choose by mean AUROC."""
    folds = list(folds or source_folds(data.source_of.tolist()))
    sel = Selection()
    sel.baseline = run_loso(folds, data.y, lambda tr, te: baseline_fit_predict(data, tr, te))
    log.info("baseline tfidf+lr: %s", _fmt(sel.baseline))
    for name in names or list(CANDIDATES):
        sel.candidates[name] = run_loso(
            folds, data.y, lambda tr, te, n=name: candidate_fit_predict(n, data, tr, te)
        )
        log.info("%s: %s", name, _fmt(sel.candidates[name]))
    sel.chosen = max(
        sel.candidates, key=lambda n: (sel.candidates[n].mean_auroc(), sel.candidates[n].min_auroc())
    )
    return sel


def fit_final(name: str, data: Stacked) -> FittedHead:
    return fit_head(name, data.texts, data.emb, data.y, balanced_weights(data.source_of, data.y))


def _fmt(res: LosoResult) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in res.auroc().items()) + f" | mean={res.mean_auroc():.3f}"
