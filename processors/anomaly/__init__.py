"""Streaming anomaly detection on per-minute series (event time).

Public surface::

    from lightkeeper.processors.anomaly import MinuteAggregator, AnomalyDetector, MetricPoint

    agg = MinuteAggregator(tag_series=("team",))
    agg.add_events(events, costs); agg.add_scores(scores)
    points = agg.flush()                      # closed minutes only
    anomalies = AnomalyDetector().update(points)   # list[AnomalyRecord]

Importing this package is cheap and needs no numpy: the series and baselines are pure Python
(the alert evaluator uses them); the detector, the forest (numpy, scikit-learn) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from lightkeeper.metric_point import MetricPoint, floor_minute, quantile
from lightkeeper.processors.anomaly.baseline import BaselineConfig, RobustBaseline
from lightkeeper.processors.anomaly.series import METRICS, MinuteAggregator

_LAZY = {
    "AnomalyConfig": "lightkeeper.processors.anomaly.detector",
    "AnomalyDetector": "lightkeeper.processors.anomaly.detector",
    "MetricPolicy": "lightkeeper.processors.anomaly.detector",
    "default_policies": "lightkeeper.processors.anomaly.detector",
    "default_series_policies": "lightkeeper.processors.anomaly.detector",
    "ForestConfig": "lightkeeper.processors.anomaly.multivariate",
    "MultivariateDetector": "lightkeeper.processors.anomaly.multivariate",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lightkeeper.processors.anomaly' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "METRICS",
    "AnomalyConfig",
    "AnomalyDetector",
    "BaselineConfig",
    "ForestConfig",
    "MetricPoint",
    "MetricPolicy",
    "MinuteAggregator",
    "MultivariateDetector",
    "RobustBaseline",
    "default_policies",
    "default_series_policies",
    "floor_minute",
    "quantile",
]
