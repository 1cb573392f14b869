"""Metadata drift: evidently's column drift tests called directly (no ``Report``).

Numeric features (tokens in/out, latency, cost per call, prompt length) use the two-sample
Kolmogorov-Smirnov test (``ks``); categorical ones (finish reasons, error types, tool use,
script) the chi-square test (``chisquare``), after pooling rare categories and adding one
pseudo-count per category to the reference (a category never seen in the reference would
otherwise have an expected count of zero). Both return p-values; each feature is tested at
``alpha / n_tested`` (Bonferroni) so the family-wise false-alarm rate per check is ``alpha``.
Features that are missing (all NaN/None) or constant on both sides are not tested.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

RARE = "__rare__"


@dataclass(slots=True)
class FeatureDrift:
    """One feature's test: ``statistic`` is evidently's drift score (a p-value for ks/chisquare)."""

    name: str
    kind: str
    method: str
    p_value: float
    positive: bool
    reference_size: int
    current_size: int


@dataclass(slots=True)
class MetadataDriftResult:
    """All features of one check; ``features`` sorted most drifted first."""

    features: list[FeatureDrift] = field(default_factory=list)
    alpha: float = 0.0
    per_feature_alpha: float = 0.0

    @property
    def positive(self) -> bool:
        return any(f.positive for f in self.features)

    @property
    def top(self) -> FeatureDrift | None:
        return self.features[0] if self.features else None


def _numeric_test(ref: np.ndarray, cur: np.ndarray, alpha: float) -> tuple[float, bool] | None:
    import pandas as pd
    from evidently.legacy.calculations.stattests import ks_stat_test
    from evidently.legacy.core import ColumnType

    ref = ref[np.isfinite(ref)]
    cur = cur[np.isfinite(cur)]
    if ref.size < 10 or cur.size < 10:
        return None
    if np.ptp(ref) == 0 and np.ptp(cur) == 0 and ref[0] == cur[0]:
        return None
    res = ks_stat_test(pd.Series(ref), pd.Series(cur), ColumnType.Numerical, alpha)
    return float(res.drift_score), bool(res.drifted)


def pool_categories(
    ref: list[str | None], cur: list[str | None], min_count: int
) -> tuple[list[str], list[str]] | None:
    """Drop missing values, pool categories rarer than ``min_count`` into ``__rare__``."""
    r = [v for v in ref if v is not None]
    c = [v for v in cur if v is not None]
    if len(r) < 10 or len(c) < 10:
        return None
    counts = Counter(r) + Counter(c)
    keep = {k for k, n in counts.items() if n >= min_count}
    r = [v if v in keep else RARE for v in r]
    c = [v if v in keep else RARE for v in c]
    if len(set(r) | set(c)) < 2:
        return None
    return r, c


def _categorical_test(
    ref: list[str | None], cur: list[str | None], alpha: float, min_count: int
) -> tuple[float, bool] | None:
    import pandas as pd
    from evidently.legacy.calculations.stattests import chi_stat_test
    from evidently.legacy.core import ColumnType

    pooled = pool_categories(ref, cur, min_count)
    if pooled is None:
        return None
    r, c = pooled
    r = r + sorted(set(r) | set(c))  # one pseudo-count per category: no zero expectation
    res = chi_stat_test(pd.Series(r), pd.Series(c), ColumnType.Categorical, alpha)
    p = float(res.drift_score)
    if not np.isfinite(p):
        return None
    return p, bool(res.drifted)


def metadata_drift(
    numeric_names: list[str],
    ref_num: np.ndarray,
    cur_num: np.ndarray,
    categorical_names: list[str],
    ref_cat: list[tuple[str | None, ...]],
    cur_cat: list[tuple[str | None, ...]],
    *,
    alpha: float = 1e-4,
    min_category_count: int = 10,
) -> MetadataDriftResult:
    """Test every feature; a check is positive when any feature's p-value < alpha / n_tested."""
    n_features = len(numeric_names) + len(categorical_names)
    per = alpha / max(n_features, 1)
    out: list[FeatureDrift] = []
    for j, name in enumerate(numeric_names):
        res = _numeric_test(ref_num[:, j], cur_num[:, j], per)
        if res is not None:
            out.append(FeatureDrift(name, "numeric", "ks", res[0], res[1], len(ref_num), len(cur_num)))
    for j, name in enumerate(categorical_names):
        res = _categorical_test([c[j] for c in ref_cat], [c[j] for c in cur_cat], per, min_category_count)
        if res is not None:
            out.append(
                FeatureDrift(name, "categorical", "chisquare", res[0], res[1], len(ref_cat), len(cur_cat))
            )
    per_tested = alpha / max(len(out), 1)
    for f in out:  # Bonferroni over the features actually tested
        f.positive = f.p_value < per_tested
    out.sort(key=lambda f: f.p_value)
    return MetadataDriftResult(out, alpha, per_tested)


def atypical_rows(
    feature: FeatureDrift,
    column_index: int,
    ref_num: np.ndarray,
    cur_num: np.ndarray,
    ref_cat: list[tuple[str | None, ...]],
    cur_cat: list[tuple[str | None, ...]],
    k: int,
) -> list[int]:
    """Up to ``k`` current rows whose value of ``feature`` is least typical of the reference:
    farthest from the reference median in IQR units (numeric), or of the category most
    over-represented relative to the reference (categorical)."""
    if k <= 0:
        return []
    if feature.kind == "numeric":
        ref = ref_num[:, column_index]
        ref = ref[np.isfinite(ref)]
        cur = cur_num[:, column_index]
        if ref.size == 0:
            return []
        q1, med, q3 = np.percentile(ref, [25, 50, 75])
        scale = max(float(q3 - q1), 1e-9)
        dist = np.where(np.isfinite(cur), np.abs(cur - med) / scale, -1.0)
        return [int(i) for i in np.argsort(-dist, kind="stable")[:k] if dist[i] >= 0]
    ref_counts = Counter(c[column_index] for c in ref_cat)
    cur_counts = Counter(c[column_index] for c in cur_cat)
    n_ref, n_cur = max(len(ref_cat), 1), max(len(cur_cat), 1)
    ratio = {
        v: (n / n_cur) / ((ref_counts.get(v, 0) + 1) / n_ref) for v, n in cur_counts.items() if v is not None
    }
    if not ratio:
        return []
    worst = max(ratio.items(), key=lambda kv: kv[1])[0]
    return [i for i, c in enumerate(cur_cat) if c[column_index] == worst][:k]
