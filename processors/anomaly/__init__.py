"""Streaming anomaly detection on per-minute series (event time).

Public surface::

    from processors.anomaly import MinuteAggregator, AnomalyDetector, MetricPoint

    agg = MinuteAggregator(tag_series=("team",))
    agg.add_events(events, costs); agg.add_scores(scores)
    points = agg.flush()                      # closed minutes only
    anomalies = AnomalyDetector().update(points)   # list[AnomalyRecord]

Importing this package is cheap; scikit-learn is imported when the first forest is fitted.
"""

from processors.anomaly.baseline import BaselineConfig, RobustBaseline
from processors.anomaly.detector import AnomalyConfig, AnomalyDetector, MetricPolicy, default_policies
from processors.anomaly.multivariate import ForestConfig, MultivariateDetector
from processors.anomaly.series import METRICS, MetricPoint, MinuteAggregator, floor_minute, quantile

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
    "floor_minute",
    "quantile",
]
