"""Continuous drift detection per (app, model) and configured route/tag keys.

Public surface:

* :class:`DriftConfig` (``config``) — windows, thresholds, features, per-app overrides;
* :class:`DriftObservation`, :func:`observation_from_event` (``observation``) — the input;
* :class:`DriftMonitor` (``detector``) — ``observe(batch) -> list[DriftRecord]``, per-key state
  export/import for faust tables or files;
* :class:`ReportWriter`, :func:`render_html` (``report``) — evidently HTML reports off the hot path;
* :func:`embedding_drift`, :func:`metadata_drift` — the evidently tests, usable on their own.

Heavy libraries (evidently, pandas, scikit-learn) are imported when a check first runs.
"""

from lightkeeper.processors.drift.config import DriftConfig, ThresholdConfig, WindowConfig
from lightkeeper.processors.drift.detector import DriftMonitor
from lightkeeper.processors.drift.embedding_drift import EmbeddingDriftResult, embedding_drift
from lightkeeper.processors.drift.metadata_drift import FeatureDrift, MetadataDriftResult, metadata_drift
from lightkeeper.processors.drift.observation import (
    DriftObservation,
    event_metadata,
    observation_from_event,
    script_of,
)
from lightkeeper.processors.drift.state import KeyIdentity, KeyState

__all__ = [
    "DriftConfig",
    "DriftMonitor",
    "DriftObservation",
    "EmbeddingDriftResult",
    "FeatureDrift",
    "KeyIdentity",
    "KeyState",
    "MetadataDriftResult",
    "ThresholdConfig",
    "WindowConfig",
    "embedding_drift",
    "event_metadata",
    "metadata_drift",
    "observation_from_event",
    "script_of",
]
