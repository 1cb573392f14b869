"""Helpers shared by the training scripts: metrics, LOSO tables, artifact writing (joblib model +
JSON card)."""

from __future__ import annotations

import json
import logging
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from training.loso import LosoResult

__all__ = [
    "ARTIFACT_DIR",
    "balanced_threshold",
    "binary_metrics",
    "fpr_threshold",
    "loso_table",
    "write_artifact",
]

log = logging.getLogger(__name__)

ARTIFACT_DIR = Path(__file__).resolve().parents[1] / "processors" / "artifacts"


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """AUROC, F1, precision, recall and accuracy of scores ``p`` against labels ``y``."""
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

    pred = (p >= threshold).astype(int)
    out: dict[str, float] = {"n": float(len(y)), "positives": float(int(np.sum(y)))}
    out["auroc"] = float(roc_auc_score(y, p)) if 0 < np.sum(y) < len(y) else float("nan")
    out["f1"] = float(f1_score(y, pred, zero_division=0))
    out["precision"] = float(precision_score(y, pred, zero_division=0))
    out["recall"] = float(recall_score(y, pred, zero_division=0))
    out["accuracy"] = float(np.mean(pred == y))
    return {k: round(v, 4) for k, v in out.items()}


def fpr_threshold(negative_scores: np.ndarray, max_fpr: float) -> float:
    """Smallest threshold whose false-positive rate on ``negative_scores`` is <= ``max_fpr``."""
    s = np.sort(np.asarray(negative_scores, dtype=np.float64))
    if len(s) == 0:
        return 0.5
    k = int(np.floor(max_fpr * len(s)))  # allowed false positives
    idx = len(s) - k - 1
    return float(np.nextafter(s[idx], 1.0)) if idx >= 0 else 0.0


def write_artifact(
    detector: str,
    version: int,
    model: dict[str, Any],
    card: dict[str, Any],
    out_dir: Path | None = None,
) -> tuple[Path, Path]:
    """Write ``<detector>-v<version>.joblib`` (the model dict) and its ``.json`` card (metrics,
    data hashes, library versions), and remove versions older than ``version - 1`` (the package
    keeps the current model and one previous). Returns both paths."""
    import joblib
    import scipy
    import sklearn

    out = out_dir or ARTIFACT_DIR
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{detector}-v{version}"
    model_path = out / f"{stem}.joblib"
    card_path = out / f"{stem}.json"
    full_card = {
        "detector": detector,
        "version": f"{detector}-v{version}",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "python_version": platform.python_version(),
        "embedding_model": "sentence-transformers/all-MiniLM-L6-v2",
        **card,
    }
    model = {**model, "version": full_card["version"], "sklearn_version": sklearn.__version__}
    joblib.dump(model, model_path, compress=3)
    card_path.write_text(json.dumps(full_card, indent=2, sort_keys=False, default=float) + "\n")
    for old in out.glob(f"{detector}-v*.j*"):
        number = old.stem.rsplit("-v", 1)[-1]
        if number.isdigit() and int(number) < version - 1 and old.suffix in (".joblib", ".json"):
            old.unlink()
    return model_path, card_path


def loso_table(
    model: dict[str, float], baseline: dict[str, float], extra: dict[str, dict[str, float]] | None = None
) -> list[dict[str, float | str]]:
    """Rows ``{"source", "model_auroc", "baseline_auroc", ...extra}`` for the card and the docs."""
    rows: list[dict[str, float | str]] = []
    for name, value in model.items():
        row: dict[str, float | str] = {
            "source": name,
            "model_auroc": round(value, 4),
            "baseline_auroc": round(baseline.get(name, float("nan")), 4),
        }
        row.update({k: round(v, 4) for k, v in (extra or {}).get(name, {}).items()})
        rows.append(row)
    return rows


def balanced_threshold(res: LosoResult) -> float:
    """The threshold maximizing the mean over held-out sources of (TPR + TNR) / 2."""
    grid = np.linspace(0.05, 0.95, 181)
    best, best_val = 0.5, -1.0
    for t in grid:
        vals = []
        for name in res.y:
            y, s = res.y[name], res.scores[name]
            if len(np.unique(y)) < 2:
                continue
            vals.append(0.5 * (np.mean(s[y == 1] >= t) + np.mean(s[y == 0] < t)))
        if vals and float(np.mean(vals)) > best_val:
            best, best_val = float(t), float(np.mean(vals))
    return round(best, 4)
