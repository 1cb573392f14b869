"""Embedding drift: evidently's embedding drift methods called directly (no ``Report``).

``model`` (default) is evidently's :class:`ModelDriftMethod`: a domain classifier (SGD logistic
regression) trained to tell reference from current embeddings on half of the rows; its ROC AUC
on the other half is the score. Under "no drift" the held-out AUC is distributed as the
Mann-Whitney statistic of random scores, so it has a p-value: with ``n1`` reference and ``n0``
current rows in the held-out half, ``AUC ~ N(0.5, (n0 + n1 + 1) / (12 n0 n1))``. The split is
evidently's own (``train_test_split(test_size=0.5, random_state=42)``), replayed here to know
``n0`` and ``n1``. ``mmd`` is evidently's :class:`MMDDriftMethod` (unbiased MMD² with an RBF
kernel at the median heuristic) against a fixed threshold.

Examples "far from the reference" are current rows inside a region the current window populates
and the reference does not (see :func:`far_from_reference`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EMBEDDING_METHODS = ("model", "mmd")


@dataclass(slots=True)
class EmbeddingDriftResult:
    """One embedding check. ``score``: AUC (model) or MMD² (mmd); ``threshold``: the score above
    which the check is positive (for ``model``, the AUC whose p-value is ``alpha``)."""

    method: str
    score: float
    threshold: float
    p_value: float | None
    positive: bool
    reference_size: int
    current_size: int


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _norm_isf(p: float) -> float:
    """Inverse survival function of N(0, 1) (bisection on erfc; p in (0, 1))."""
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if _norm_sf(mid) > p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def heldout_counts(n_ref: int, n_cur: int) -> tuple[int, int]:
    """(reference rows, current rows) in evidently's held-out half for these window sizes."""
    from sklearn.model_selection import train_test_split

    labels = np.concatenate([np.ones(n_ref, dtype=np.int8), np.zeros(n_cur, dtype=np.int8)])
    _, y_test = train_test_split(labels, test_size=0.5, random_state=42, shuffle=True)
    n1 = int(y_test.sum())
    return n1, int(y_test.shape[0] - n1)


def auc_p_value(auc: float, n1: int, n0: int) -> float:
    """One-sided p-value of a held-out AUC under "same distribution" (normal approximation)."""
    if n1 < 1 or n0 < 1:
        return 1.0
    sd = math.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1))
    return _norm_sf((auc - 0.5) / sd)


def auc_threshold(alpha: float, n1: int, n0: int) -> float:
    """The AUC whose p-value is ``alpha``."""
    if n1 < 1 or n0 < 1:
        return 1.0
    sd = math.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1))
    return min(1.0, 0.5 + _norm_isf(alpha) * sd)


def embedding_drift(
    reference: np.ndarray,
    current: np.ndarray,
    *,
    method: str = "model",
    alpha: float = 1e-4,
    mmd_threshold: float = 0.015,
    pca_components: int | None = None,
) -> EmbeddingDriftResult:
    """Compare two embedding matrices (rows = events) with an evidently drift method."""
    import pandas as pd
    from evidently.legacy.metrics.data_drift.embedding_drift_methods import MMDDriftMethod, ModelDriftMethod

    if method not in EMBEDDING_METHODS:
        raise ValueError(f"unknown embedding drift method {method!r}; expected one of {EMBEDDING_METHODS}")
    n_ref, n_cur = int(reference.shape[0]), int(current.shape[0])
    if n_ref < 4 or n_cur < 4:
        raise ValueError(f"too few rows for an embedding drift check ({n_ref} vs {n_cur})")
    pca = pca_components if pca_components and pca_components < min(n_ref, reference.shape[1]) else None
    ref_df = pd.DataFrame(np.asarray(reference, dtype=np.float64))
    cur_df = pd.DataFrame(np.asarray(current, dtype=np.float64))
    if method == "model":
        score, _, _ = ModelDriftMethod(threshold=0.5, pca_components=pca)(cur_df, ref_df)
        n1, n0 = heldout_counts(n_ref, n_cur)
        p = auc_p_value(float(score), n1, n0)
        threshold = auc_threshold(alpha, n1, n0)
        return EmbeddingDriftResult("model", float(score), threshold, p, p < alpha, n_ref, n_cur)
    score, positive, _ = MMDDriftMethod(threshold=mmd_threshold, pca_components=pca)(cur_df, ref_df)
    return EmbeddingDriftResult("mmd", float(score), mmd_threshold, None, bool(positive), n_ref, n_cur)


def far_from_reference(
    reference: np.ndarray, current: np.ndarray, k: int, neighbours: int = 5
) -> list[tuple[int, float]]:
    """Up to ``k`` (row index in ``current``, score) of current rows typical of what is new,
    best first. Score = mean cosine similarity to the row's nearest current neighbours minus
    that to its nearest reference neighbours: high for rows inside a region the current window
    populates and the reference does not (a lone outlier scores low on both). Rows are expected
    L2-normalized."""
    if k <= 0 or reference.shape[0] == 0 or current.shape[0] == 0:
        return []
    cur = current.astype(np.float32)
    to_ref = cur @ reference.astype(np.float32).T
    to_cur = cur @ cur.T
    np.fill_diagonal(to_cur, -np.inf)
    kr = min(neighbours, to_ref.shape[1])
    kc = min(neighbours, max(to_cur.shape[1] - 1, 1))
    ref_sim = np.sort(to_ref, axis=1)[:, -kr:].mean(axis=1)
    cur_sim = np.sort(to_cur, axis=1)[:, -kc:].mean(axis=1) if cur.shape[0] > 1 else ref_sim
    score = cur_sim - ref_sim
    order = np.argsort(-score, kind="stable")[:k]
    return [(int(i), float(score[i])) for i in order]
