"""Anomaly detection: spikes found, stationary data quiet, warm-up, seasonality, forests."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from lightkeeper.processors.anomaly import (
    AnomalyConfig,
    AnomalyDetector,
    BaselineConfig,
    MetricPoint,
    RobustBaseline,
)
from lightkeeper.processors.anomaly.multivariate import FastForest
from lightkeeper.processors.anomaly.stats import binomial_sf, binomial_z, poisson_sf, poisson_z
from lightkeeper.schemas.records import Severity

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LABELS = {"app": "chat", "model": "m"}


def _pt(
    metric: str, i: int, value: float, weight: float = 1.0, series: str = "model", **labels: str
) -> MetricPoint:
    return MetricPoint(metric, labels or dict(LABELS), T0 + timedelta(minutes=i), value, weight, (), series)


def _stationary_cost(rng: random.Random, i: int) -> float:
    season = 1 + 0.4 * math.sin(2 * math.pi * i / 1440)
    return 2.0 * season * math.exp(rng.gauss(0, 0.15))


def test_stationary_two_days_no_anomalies():
    rng = random.Random(1)
    det = AnomalyDetector(AnomalyConfig(forest=None))
    found = []
    for i in range(2 * 1440):
        found += det.update(
            [
                _pt("cost_usd", i, _stationary_cost(rng, i)),
                _pt("requests", i, rng.gauss(100, 10) * (1 + 0.4 * math.sin(2 * math.pi * i / 1440))),
                _pt("error_rate", i, sum(rng.random() < 0.01 for _ in range(100)) / 100, 100),
            ]
        )
    assert found == []


def test_cost_spike_detected_with_expected_and_severity():
    rng = random.Random(2)
    det = AnomalyDetector(AnomalyConfig(forest=None))
    for i in range(300):
        assert det.update([_pt("cost_usd", i, _stationary_cost(rng, i))]) == []
    [rec] = det.update([_pt("cost_usd", 300, 40.0)])
    assert rec.metric == "cost_usd" and rec.app == "chat" and rec.model == "m"
    assert rec.actual == 40.0 and 1.0 < (rec.expected or 0) < 4.0
    assert rec.score > 4.5 and rec.severity in (Severity.HIGH, Severity.CRITICAL)
    assert rec.window_start == T0 + timedelta(minutes=300) and rec.detector == "ewma_mad"


def test_sustained_incident_keeps_being_reported():
    rng = random.Random(3)
    det = AnomalyDetector(AnomalyConfig(forest=None))
    for i in range(300):
        det.update([_pt("cost_usd", i, _stationary_cost(rng, i))])
    hits = [
        bool(det.update([_pt("cost_usd", i, 30.0 * math.exp(rng.gauss(0, 0.1)))])) for i in range(300, 320)
    ]
    assert all(hits)  # Huber-clipped learning: 20 minutes later still anomalous


def test_warmup_suppresses_early_spikes():
    det = AnomalyDetector(AnomalyConfig(forest=None, baseline=BaselineConfig(warmup=30)))
    found = []
    for i in range(29):
        found += det.update([_pt("cost_usd", i, 100.0 if i == 20 else 1.0 + 0.01 * (i % 3))])
    assert found == []


def test_error_burst_binomial_and_small_samples_ignored():
    rng = random.Random(4)
    det = AnomalyDetector(AnomalyConfig(forest=None))
    for i in range(200):
        n = 60
        det.update([_pt("error_rate", i, sum(rng.random() < 0.01 for _ in range(n)) / n, n)])
    assert det.update([_pt("error_rate", 200, 0.5, 4)]) == []  # 2 of 4: below min_weight
    [rec] = det.update([_pt("error_rate", 201, 15 / 60, 60)])
    assert rec.metric == "error_rate" and rec.score >= 4.5


def test_per_user_series_labels():
    rng = random.Random(5)
    det = AnomalyDetector(AnomalyConfig(forest=None))
    for i in range(100):
        det.update(
            [_pt("cost_usd", i, 0.01 * math.exp(rng.gauss(0, 0.3)), series="user", app="a", user_id="u1")]
        )
    [rec] = det.update([_pt("cost_usd", 100, 0.5, series="user", app="a", user_id="u1")])
    assert rec.user_id == "u1" and rec.model == "" and rec.details["series"] == "user"


def test_late_points_ignored():
    det = AnomalyDetector(AnomalyConfig(forest=None))
    det.update([_pt("cost_usd", 5, 1.0)])
    det.update([_pt("cost_usd", 4, 1.0)])
    assert det.late_points == 1


def test_seasonal_profile_learned():
    base = RobustBaseline(BaselineConfig(season_min_obs=30))
    for i in range(3 * 1440):
        ts = T0 + timedelta(minutes=i)
        base.update(ts, 10.0 if 9 <= ts.hour < 17 else 2.0)
    assert base.seasonal_ready
    # A step at 09:00 every day: the profile expects it instead of treating it as news.
    assert base.expected_at(T0.replace(hour=9, minute=1)) > 6.0


def test_binomial_tail_matches_closed_form():
    assert binomial_sf(1, 10, 0.1) == pytest.approx(1 - 0.9**10)
    assert 2.5 < binomial_z(3, 20, 0.01) < 3.5  # P(X>=3) ~ 1e-3
    assert binomial_z(0, 20, 0.01) == 0.0 and binomial_z(30, 50, 0.01) > 10


def test_poisson_tail():
    assert poisson_sf(1, 2.0) == pytest.approx(1 - math.exp(-2.0))
    assert poisson_z(2, 3.0) == 0.0 and 4 < poisson_z(15, 3.0) < 6


def test_fast_forest_equals_sklearn():
    from sklearn.ensemble import IsolationForest

    rng = np.random.default_rng(0)
    forest = IsolationForest(n_estimators=50, random_state=0).fit(rng.normal(size=(300, 5)))
    fast = FastForest(forest)
    probe = rng.normal(size=(10, 5)) * 3
    assert np.allclose(forest.score_samples(probe), [fast.score(x) for x in probe])


def test_multivariate_flags_combination():
    rng = random.Random(6)
    det = AnomalyDetector()
    found = []
    for i in range(400):
        found += det.update(
            [
                _pt("requests", i, rng.gauss(200, 10)),
                _pt("latency_p95_ms", i, 1000 * math.exp(rng.gauss(0, 0.05)), 200),
                _pt("error_rate", i, sum(rng.random() < 0.01 for _ in range(200)) / 200, 200),
            ]
        )
    assert not [r for r in found if r.detector == "isolation_forest"]
    # Fewer requests, slower and more errors at once, each only moderately unusual.
    found = det.update(
        [_pt("requests", 400, 150), _pt("latency_p95_ms", 400, 1300, 150), _pt("error_rate", 400, 0.04, 150)]
    )
    forest = [r for r in found if r.detector == "isolation_forest"]
    assert forest and forest[0].metric == "multivariate" and forest[0].details["top_features"]
