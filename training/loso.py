"""Leave-one-source-out (LOSO) evaluation: train on every source but one, score the held-out one.

Items from all sources are stacked; ``source_of[i]`` names the source of item ``i``. A fold holds
one source out (its test items) and trains on the rest. Every model and every baseline is judged
with the same folds, so the tables in docs/detectors.md compare like with like.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Fold", "LosoResult", "auroc", "balanced_weights", "run_loso", "source_folds"]


@dataclass(frozen=True)
class Fold:
    """One LOSO fold: the held-out ``name`` and the item indexes it trains and tests on."""

    name: str
    train: np.ndarray
    test: np.ndarray


@dataclass
class LosoResult:
    """Held-out labels and scores per fold, and their AUROC."""

    y: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]

    def auroc(self) -> dict[str, float]:
        return {name: auroc(self.y[name], self.scores[name]) for name in self.y}

    def mean_auroc(self) -> float:
        vals = [v for v in self.auroc().values() if not math.isnan(v)]
        return float(np.mean(vals)) if vals else float("nan")

    def min_auroc(self) -> float:
        vals = [v for v in self.auroc().values() if not math.isnan(v)]
        return float(np.min(vals)) if vals else float("nan")


def auroc(y: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; NaN when ``y`` holds one class only."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, scores))


def source_folds(source_of: Sequence[str], names: Sequence[str] | None = None) -> list[Fold]:
    """One fold per source in ``names`` (default: every source, in first-seen order)."""
    src = np.asarray(source_of)
    order = list(dict.fromkeys(src.tolist())) if names is None else list(names)
    return [Fold(n, np.flatnonzero(src != n), np.flatnonzero(src == n)) for n in order]


def balanced_weights(source_of: Sequence[str], y: np.ndarray) -> np.ndarray:
    """Sample weights giving every (source, label) group the same total weight (mean weight 1),
    so a large source does not drown a small one and each source's classes count alike."""
    src = np.asarray(source_of)
    groups = np.asarray([f"{s}\x00{int(label)}" for s, label in zip(src, y, strict=True)])
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    return np.asarray(w * len(w) / w.sum(), dtype=np.float64)


def run_loso(
    folds: Sequence[Fold],
    y: np.ndarray,
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> LosoResult:
    """For each fold, ``fit_predict(train_idx, test_idx)`` returns scores of the test items."""
    ys: dict[str, np.ndarray] = {}
    scores: dict[str, np.ndarray] = {}
    for fold in folds:
        scores[fold.name] = np.asarray(fit_predict(fold.train, fold.test), dtype=np.float64)
        ys[fold.name] = np.asarray(y[fold.test])
    return LosoResult(ys, scores)
