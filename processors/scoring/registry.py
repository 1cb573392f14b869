"""Scorer registry and artifact loading.

``get_scorer(name)`` returns the process-wide scorer for ``toxicity``, ``hallucination``,
``injection`` or ``pii`` (created on first use; each loads its model once per worker). Scorer
classes are imported lazily by dotted name so importing this module stays cheap.

Artifacts live in ``processors/artifacts/<detector>-v<N>.joblib`` with a JSON card next to them;
:func:`load_artifact` picks the highest version (or ``$LIGHTKEEPER_ARTIFACT_DIR``) and warns when
the scikit-learn version differs from the one that trained the model.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import threading
import warnings
from pathlib import Path
from typing import Any

from lightkeeper.errors import ConfigError, LightkeeperError
from lightkeeper.processors.scoring.base import Scorer

__all__ = [
    "ARTIFACT_DIR",
    "SCORERS",
    "ArtifactError",
    "ArtifactVersionWarning",
    "artifact_path",
    "get_scorer",
    "load_artifact",
    "reset_scorers",
]

log = logging.getLogger(__name__)

ARTIFACT_DIR = Path(__file__).resolve().parents[1] / "artifacts"

#: Scorer name -> "module:Class". Classes take no required constructor arguments.
SCORERS: dict[str, str] = {
    "toxicity": "lightkeeper.processors.scoring.toxicity:ToxicityScorer",
    "hallucination": "lightkeeper.processors.scoring.hallucination:HallucinationScorer",
    "injection": "lightkeeper.processors.scoring.injection:InjectionScorer",
    "pii": "lightkeeper.processors.scoring.pii_scorer:PIIScorer",
}

_instances: dict[str, Scorer] = {}
_lock = threading.Lock()


class ArtifactError(LightkeeperError):
    """A model artifact is missing or unreadable."""


class ArtifactVersionWarning(UserWarning):
    """The artifact was trained with another scikit-learn version than the one installed."""


def get_scorer(name: str) -> Scorer:
    """The process-wide scorer registered under ``name`` (loaded on first call)."""
    if name not in SCORERS:
        raise ConfigError(f"unknown scorer {name!r}; choose one of {', '.join(sorted(SCORERS))}")
    inst = _instances.get(name)
    if inst is not None:
        return inst
    with _lock:
        inst = _instances.get(name)
        if inst is None:
            module_name, _, cls_name = SCORERS[name].partition(":")
            try:
                cls = getattr(importlib.import_module(module_name), cls_name)
            except (ImportError, AttributeError) as exc:
                raise ConfigError(f"scorer {name!r} is not available ({SCORERS[name]}): {exc}") from exc
            inst = cls()
            _instances[name] = inst
    return inst


def reset_scorers() -> None:
    """Forget the loaded scorers (tests)."""
    with _lock:
        _instances.clear()


def _artifact_dir() -> Path:
    env = os.environ.get("LIGHTKEEPER_ARTIFACT_DIR")
    return Path(env) if env else ARTIFACT_DIR


def artifact_path(detector: str, version: int | None = None, directory: Path | None = None) -> Path:
    """Path of ``<detector>-v<version>.joblib`` (highest version when ``version`` is None)."""
    d = directory or _artifact_dir()
    if version is not None:
        p = d / f"{detector}-v{version}.joblib"
        if not p.is_file():
            raise ArtifactError(f"artifact {p} not found; run `lightkeeper train {detector}`")
        return p
    pat = re.compile(rf"^{re.escape(detector)}-v(\d+)\.joblib$")
    found = sorted(
        ((int(m.group(1)), p) for p in d.glob(f"{detector}-v*.joblib") if (m := pat.match(p.name))),
        key=lambda t: t[0],
    )
    if not found:
        raise ArtifactError(f"no {detector} artifact in {d}; run `lightkeeper train {detector}`")
    return found[-1][1]


def load_artifact(detector: str, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Load a trained model dict (offline, from disk). Warns with :class:`ArtifactVersionWarning`
    when it was trained with a different scikit-learn version."""
    import joblib
    import sklearn

    p = Path(path) if path else artifact_path(detector)
    if not p.is_file():
        raise ArtifactError(f"model file {p} not found")
    try:
        with warnings.catch_warnings():
            # sklearn's own pickle-version warning is replaced by ours (with the card's version).
            warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
            model = joblib.load(p)
    except Exception as exc:
        raise ArtifactError(f"cannot load artifact {p}: {exc}") from exc
    if not isinstance(model, dict) or "clf" not in model:
        raise ArtifactError(f"artifact {p} is not a Lightkeeper model dict")
    card_path = p.with_suffix(".json")
    card: dict[str, Any] = {}
    if card_path.is_file():
        try:
            card = json.loads(card_path.read_text())
        except ValueError:
            log.warning("model card %s is not valid JSON", card_path)
    trained_with = model.get("sklearn_version") or card.get("sklearn_version")
    if trained_with and trained_with != sklearn.__version__:
        warnings.warn(
            f"{p.name} was trained with scikit-learn {trained_with}, running {sklearn.__version__}; "
            f"scores may differ. Retrain with `lightkeeper train {detector}`.",
            ArtifactVersionWarning,
            stacklevel=2,
        )
    model["card"] = card
    model["path"] = str(p)
    return model
