"""Helpers shared by the training scripts: cached embeddings of training texts, metrics,
artifact writing (joblib model + JSON card)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ARTIFACT_DIR",
    "binary_metrics",
    "cache_dir",
    "embed_cached",
    "fpr_threshold",
    "set_seeds",
    "write_artifact",
]

log = logging.getLogger(__name__)

ARTIFACT_DIR = Path(__file__).resolve().parents[1] / "artifacts"
SEED = 20240601


def set_seeds(seed: int = SEED) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def cache_dir() -> Path:
    """Where training embeddings are cached (not in git): ``$LIGHTKEEPER_CACHE_DIR`` or
    ``~/.cache/lightkeeper``."""
    base = os.environ.get("LIGHTKEEPER_CACHE_DIR") or str(Path.home() / ".cache" / "lightkeeper")
    p = Path(base) / "train-embeddings"
    p.mkdir(parents=True, exist_ok=True)
    return p


def embed_cached(name: str, texts: Sequence[str], chunk: int = 256) -> np.ndarray:
    """Embeddings of ``texts`` with the shared embedder, cached on disk in chunks of ``chunk``
    texts, each file keyed by the model name and the SHA-1 of its texts (a changed dataset is
    re-embedded; an interrupted run resumes)."""
    from lightkeeper.processors.embedding import EMBEDDING_DIM, MODEL_NAME, get_embedder

    t0 = time.perf_counter()
    out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
    d = cache_dir()
    fresh = 0
    for i in range(0, len(texts), chunk):
        part = list(texts[i : i + chunk])
        h = hashlib.sha1(MODEL_NAME.encode(), usedforsecurity=False)
        for t in part:
            h.update(t.encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
        path = d / f"{name}-{h.hexdigest()[:20]}.npy"
        if path.is_file():
            arr = np.load(path)
            if arr.shape == (len(part), EMBEDDING_DIM):
                out[i : i + len(part)] = arr
                continue
        vecs = get_embedder().encode_uncached(part)
        np.save(path, vecs)
        out[i : i + len(part)] = vecs
        fresh += len(part)
        log.info("embedded %s: %d/%d", name, min(i + chunk, len(texts)), len(texts))
    if fresh:
        log.info("embedded %d new texts of %s in %.1fs", fresh, name, time.perf_counter() - t0)
    return out


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
    data hashes, library versions). Returns both paths."""
    import joblib
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
        "python_version": platform.python_version(),
        "embedding_model": "sentence-transformers/all-MiniLM-L6-v2",
        **card,
    }
    model = {**model, "version": full_card["version"], "sklearn_version": sklearn.__version__}
    joblib.dump(model, model_path, compress=3)
    card_path.write_text(json.dumps(full_card, indent=2, sort_keys=False, default=float) + "\n")
    return model_path, card_path
