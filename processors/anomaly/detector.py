"""Streaming anomaly detection over per-minute metric points.

:class:`AnomalyDetector` keeps one :class:`RobustBaseline` per (series, metric, labels) and,
for ``model`` series, one IsolationForest over the minute's vector of z-scores. Feed it the
points of closed minutes (from :class:`~processors.anomaly.series.MinuteAggregator`) in
event-time order; it returns :class:`~schemas.records.AnomalyRecord` objects for the anomalies
topic and the ``anomalies`` table.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from lightkeeper.metric_point import MetricPoint
from lightkeeper.processors.anomaly.baseline import BaselineConfig, RobustBaseline
from lightkeeper.processors.anomaly.multivariate import ForestConfig, MultivariateDetector
from lightkeeper.processors.anomaly.stats import binomial_z, poisson_z
from lightkeeper.schemas.records import AnomalyRecord, Severity


@dataclass(slots=True)
class MetricPolicy:
    """When a metric's deviation counts as an anomaly.

    All must hold: ``|z| >= z`` in an allowed ``direction``; ``|actual - expected| >=
    max(min_abs, min_rel * |expected|)`` (in the metric's own units); the minute summarizes at
    least ``min_weight`` observations.

    ``transform`` picks the noise model: ``none`` (z on the value; scale floored at
    ``min_scale_rel`` × expected), ``log`` (baseline on log(value + eps): multiplicative
    metrics such as cost, tokens, latency), ``poisson`` (counts: scale floored at √expected),
    ``binomial`` (rates: z from the exact binomial tail of ``value × weight`` successes in
    ``weight`` trials at the baseline rate, floored at ``p_floor``). ``min_scale`` floors the
    scale in the transformed space.
    """

    direction: Literal["up", "down", "both"] = "up"
    z: float = 6.0
    min_abs: float = 0.0
    min_rel: float = 0.0
    min_weight: float = 1.0
    transform: Literal["none", "log", "poisson", "binomial"] = "none"
    eps: float = 1e-6
    min_scale: float = 0.0
    min_scale_rel: float = 0.05
    p_floor: float = 0.005


def default_policies() -> dict[str, MetricPolicy]:
    """Per-metric policies; tuned on ``bench/alerting.py`` synthetic traffic."""

    def rate() -> MetricPolicy:
        return MetricPolicy("up", z=4.5, min_abs=0.05, min_weight=10.0, transform="binomial")

    return {
        "requests": MetricPolicy("both", z=6.0, min_rel=0.5, transform="poisson"),
        "cost_usd": MetricPolicy("up", z=4.5, min_rel=1.0, transform="log", eps=1e-6, min_scale=0.1),
        "tokens": MetricPolicy("up", z=4.5, min_rel=1.0, transform="log", eps=1.0, min_scale=0.1),
        "latency_p95_ms": MetricPolicy(
            "up", z=6.0, min_rel=0.3, min_weight=5.0, transform="log", eps=1.0, min_scale=0.05
        ),
        "error_rate": rate(),
        "toxicity_rate": rate(),
        "hallucination_rate": rate(),
        "injection_rate": rate(),
    }


def default_series_policies() -> dict[str, dict[str, MetricPolicy]]:
    """Overrides per series. One user's minute sums only a few calls, so its cost and tokens
    swing more with the number of calls than a model's: a stricter z there, and the change must
    be material (at least $0.05 or 5000 tokens more per minute than expected); a user's p95 over
    a handful of calls is noisy, so its latency needs z >= 7."""
    return {
        "user": {
            "cost_usd": MetricPolicy(
                "up", z=5.0, min_rel=1.0, min_abs=0.05, transform="log", eps=1e-6, min_scale=0.1
            ),
            "tokens": MetricPolicy(
                "up", z=5.0, min_rel=1.0, min_abs=5000, transform="log", eps=1.0, min_scale=0.1
            ),
            "latency_p95_ms": MetricPolicy(
                "up", z=7.0, min_rel=0.5, min_weight=5.0, transform="log", eps=1.0, min_scale=0.05
            ),
        }
    }


@dataclass
class AnomalyConfig:
    """What the detector watches and how sensitive it is."""

    policies: dict[str, MetricPolicy] = field(default_factory=default_policies)
    series_policies: dict[str, dict[str, MetricPolicy]] = field(default_factory=default_series_policies)
    """Per-series overrides of ``policies`` (series name -> metric -> policy)."""
    series: tuple[str, ...] = ("model", "user")
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    forest: ForestConfig | None = field(default_factory=ForestConfig)
    forest_min_z: float = 3.0
    forest_min_features: int = 2
    """The forest only reports a minute where at least ``forest_min_features`` metrics are at
    least ``forest_min_z`` unusual: a combination, not one metric the baselines judge alone."""
    max_series: int = 100_000
    severity_steps: tuple[float, float] = (1.5, 3.0)
    """|z| / threshold at which severity becomes high, then critical (medium below)."""


def severity_for(ratio: float, steps: tuple[float, float]) -> Severity:
    """Severity from how many times over its threshold a score is."""
    if ratio >= steps[1]:
        return Severity.CRITICAL
    if ratio >= steps[0]:
        return Severity.HIGH
    return Severity.MEDIUM


class AnomalyDetector:
    """Robust per-series baselines plus an optional multivariate forest, in event time."""

    def __init__(self, config: AnomalyConfig | None = None) -> None:
        self.config = config or AnomalyConfig()
        self._baselines: OrderedDict[tuple[Any, ...], RobustBaseline] = OrderedDict()
        self._forest = MultivariateDetector(self.config.forest) if self.config.forest else None
        self.late_points = 0

    @property
    def series_count(self) -> int:
        return len(self._baselines)

    def update(self, points: Iterable[MetricPoint], now: datetime | None = None) -> list[AnomalyRecord]:
        """Score ``points`` (closed minutes, any order within the batch) and learn them."""
        cfg = self.config
        found: list[AnomalyRecord] = []
        vectors: dict[tuple[Any, ...], dict[str, float]] = {}
        vector_meta: dict[tuple[Any, ...], MetricPoint] = {}
        for p in sorted(points, key=lambda p: p.minute):
            if p.series not in cfg.series:
                continue
            policy = cfg.series_policies.get(p.series, {}).get(p.metric) or cfg.policies.get(p.metric)
            if policy is None:
                continue
            key = p.key()
            base = self._baselines.get(key)
            if base is None:
                base = self._baselines[key] = RobustBaseline(cfg.baseline)
                if len(self._baselines) > cfg.max_series:
                    self._baselines.popitem(last=False)
            elif base.last_minute is not None and p.minute <= base.last_minute:
                self.late_points += 1
                continue
            self._baselines.move_to_end(key)
            if p.weight < policy.min_weight:
                continue  # too few observations to judge (and to learn from)
            judged = self._judge(base, policy, p)
            if judged is None:
                continue
            z, expected, warm, details = judged
            if p.series == "model":
                vkey = (p.minute, p.series, tuple(sorted(p.labels.items())))
                vectors.setdefault(vkey, {})[p.metric] = z if warm else 0.0
                vector_meta.setdefault(vkey, p)
            if not warm or not self._significant(policy, z, expected, p.value):
                continue
            found.append(self._record(p, expected, z, policy.z, "ewma_mad", now, details))
        if self._forest is not None:
            found.extend(self._multivariate(vectors, vector_meta, now))
        return found

    @staticmethod
    def _judge(
        base: RobustBaseline, policy: MetricPolicy, p: MetricPoint
    ) -> tuple[float, float, bool, dict[str, Any]] | None:
        """Score ``p`` against its baseline (then learn it): (z, expected value, warm, details)."""
        value = p.value
        if policy.transform == "binomial":
            rate = base.rate
            prior = policy.p_floor
            if rate is not None:
                # Judge against an upper confidence bound of the learned rate: the estimate
                # itself is uncertain and underestimating it would manufacture anomalies.
                prior = max(rate + 2.0 * math.sqrt(rate * (1 - rate) / max(base.trials, 1.0)), policy.p_floor)
            z = binomial_z(value * p.weight, p.weight, min(prior, 0.999))
            warm = base.n >= base.config.warmup
            base.update_rate(p.minute, value * p.weight, p.weight, learn=not warm or z < policy.z)
            return z, (rate if rate is not None else 0.0), warm, {"weight": p.weight, "transform": "binomial"}
        if policy.transform == "log":
            if value < 0:
                return None
            x = math.log(value + policy.eps)
        else:
            x = value
        prior = base.expected_at(p.minute)
        floor = policy.min_scale
        if base.level is not None:
            if policy.transform == "none":
                floor = max(floor, policy.min_scale_rel * abs(prior))
            elif policy.transform == "poisson":
                floor = max(floor, math.sqrt(max(prior, 1.0)))
        obs = base.update(p.minute, x, min_scale=floor)
        expected = obs.expected
        z = obs.z
        if policy.transform == "poisson" and z > 0:
            # Upward surges of counts: the exact Poisson tail (the normal one is far too light),
            # against a slightly raised mean to allow for the estimate's own error.
            z = min(z, poisson_z(value, max(prior + 2.0 * math.sqrt(max(prior, 1.0) / 20.0), 0.5)))
        if policy.transform == "log":
            expected = max(0.0, math.exp(obs.expected) - policy.eps)
        details: dict[str, Any] = {
            "scale": obs.scale,
            "seasonal": obs.seasonal,
            "weight": p.weight,
            "transform": policy.transform,
        }
        return z, expected, obs.warm, details

    @staticmethod
    def _significant(policy: MetricPolicy, z: float, expected: float, actual: float) -> bool:
        if policy.direction == "up" and z < policy.z:
            return False
        if policy.direction == "down" and z > -policy.z:
            return False
        if policy.direction == "both" and abs(z) < policy.z:
            return False
        return abs(actual - expected) >= max(policy.min_abs, policy.min_rel * abs(expected))

    def _multivariate(
        self,
        vectors: dict[tuple[Any, ...], dict[str, float]],
        meta: dict[tuple[Any, ...], MetricPoint],
        now: datetime | None,
    ) -> list[AnomalyRecord]:
        assert self._forest is not None
        out: list[AnomalyRecord] = []
        for vkey in sorted(vectors, key=lambda k: k[0]):
            zs = vectors[vkey]
            verdict = self._forest.observe(vkey[1:], zs)
            if verdict is None or not verdict.anomalous:
                continue
            unusual = sum(1 for z in zs.values() if abs(z) >= self.config.forest_min_z)
            if unusual < self.config.forest_min_features:
                continue
            p = meta[vkey]
            details = {
                "zscores": {k: round(v, 3) for k, v in zs.items()},
                "top_features": verdict.top_features,
            }
            margin = self._forest.config.margin
            rec = self._record(p, None, verdict.score, margin, "isolation_forest", now, details)
            rec.metric = "multivariate"
            rec.actual = verdict.score
            out.append(rec)
        return out

    def _record(
        self,
        p: MetricPoint,
        expected: float | None,
        score: float,
        threshold: float,
        detector: str,
        now: datetime | None,
        details: dict[str, Any],
    ) -> AnomalyRecord:
        ratio = abs(score) / threshold if threshold else 0.0
        extra: dict[str, Any] = {"detected_at": now} if now is not None else {}
        return AnomalyRecord(
            app=p.labels.get("app", ""),
            model=p.labels.get("model", ""),
            user_id=p.labels.get("user_id", ""),
            metric=p.metric,
            window_start=p.minute,
            expected=expected,
            actual=p.value,
            score=float(score),
            severity=severity_for(ratio, self.config.severity_steps),
            detector=detector,
            details={"series": p.series, "labels": p.labels, **details},
            **extra,
        )
