"""Rule evaluation over in-memory per-minute points (event time).

:class:`RuleEvaluator` buffers the :class:`~lightkeeper.metric_point.MetricPoint` stream for
the (series, metric) pairs its rules reference, then ``evaluate(now)`` computes each rule's
aggregate over ``[now - window, now)`` per ``group_by`` value set. Drift and anomaly records
become points too (:func:`points_from_drift`, :func:`points_from_anomalies`), so "any drift"
and "anomaly severity >= high" are ordinary threshold rules.
"""

from __future__ import annotations

import itertools
import operator
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lightkeeper.alerts.rules import SEVERITY_RANK, Rule
from lightkeeper.metric_point import MetricPoint, floor_minute, quantile
from lightkeeper.schemas.records import AnomalyRecord, DriftRecord

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}


@dataclass(slots=True)
class Evaluation:
    """A rule's value for one group at one evaluation time."""

    rule: Rule
    labels: dict[str, str]
    value: float
    weight: float
    breached: bool
    top: list[tuple[dict[str, str], float]] = field(default_factory=list)
    """Up to three finest-grained label sets contributing most (examples for notifications)."""


def points_from_drift(records: Iterable[DriftRecord]) -> list[MetricPoint]:
    """``drift_score`` and ``drifted`` (0/1) points, at the minute the current window ended."""
    out: list[MetricPoint] = []
    for r in records:
        labels = {"app": r.app, "model": r.model, "key": r.key, "target": r.target}
        minute = floor_minute(r.current.end)
        out.append(MetricPoint("drift_score", labels, minute, r.score, 1.0, (), "drift"))
        out.append(MetricPoint("drifted", dict(labels), minute, 1.0 if r.drifted else 0.0, 1.0, (), "drift"))
    return out


def points_from_anomalies(records: Iterable[AnomalyRecord]) -> list[MetricPoint]:
    """``anomaly_severity`` (info=0 … critical=4) and ``anomaly_score`` points per anomaly."""
    out: list[MetricPoint] = []
    for r in records:
        labels = {
            "app": r.app,
            "model": r.model,
            "user_id": r.user_id,
            "metric": r.metric,
            "detector": r.detector,
        }
        minute = floor_minute(r.window_start)
        out.append(
            MetricPoint(
                "anomaly_severity", labels, minute, float(SEVERITY_RANK[r.severity]), 1.0, (), "anomaly"
            )
        )
        out.append(MetricPoint("anomaly_score", dict(labels), minute, abs(r.score), 1.0, (), "anomaly"))
    return out


def aggregate(how: str, points: list[MetricPoint]) -> tuple[float, float]:
    """Combine a window's points into (value, total weight) the way the rule asks."""
    weight = sum(p.weight for p in points)
    if how == "sum":
        return sum(p.value for p in points), weight
    if how == "avg":
        return (sum(p.value * p.weight for p in points) / weight if weight else 0.0), weight
    if how == "max":
        return max(p.value for p in points), weight
    if how == "min":
        return min(p.value for p in points), weight
    if how == "last":
        return max(points, key=lambda p: p.minute).value, weight
    if how == "count":
        return float(len(points)), weight
    q = _QUANTILES[how]
    samples = [s for p in points for s in p.samples]
    return quantile(samples if samples else [p.value for p in points], q), weight


class RuleEvaluator:
    """Buffers points for a set of rules and evaluates them at event-time instants."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(rules)
        self._span: dict[tuple[str, str], timedelta] = {}
        for r in self.rules:
            k = (r.series, r.metric)
            self._span[k] = max(self._span.get(k, timedelta(0)), r.window)
        self._points: dict[tuple[str, str], deque[MetricPoint]] = {k: deque() for k in self._span}
        self._partial: dict[tuple[str, str], list[MetricPoint]] = {}
        self.latest_minute: datetime | None = None
        self.release_source: Callable[[], list[Any]] | None = None
        """Release comparisons for ``series: release`` rules (set when a store is attached)."""

    def observe(self, points: Iterable[MetricPoint]) -> int:
        """Buffer the points some rule needs; returns how many were kept."""
        kept = 0
        for p in points:
            buf = self._points.get((p.series, p.metric))
            if buf is None:
                continue
            buf.append(p)
            kept += 1
            if self.latest_minute is None or p.minute > self.latest_minute:
                self.latest_minute = p.minute
        return kept

    def set_partial(self, points: Iterable[MetricPoint]) -> None:
        """Replace the provisional points of still-open minutes (from
        :meth:`MinuteAggregator.snapshot`); evaluation adds them to the closed minutes."""
        partial: dict[tuple[str, str], list[MetricPoint]] = {}
        for p in points:
            k = (p.series, p.metric)
            if k in self._span:
                partial.setdefault(k, []).append(p)
        self._partial = partial

    def _prune(self, now: datetime) -> None:
        for k, buf in self._points.items():
            horizon = now - self._span[k]
            if buf and any(p.minute < horizon for p in buf):
                self._points[k] = deque(p for p in buf if p.minute >= horizon)

    def evaluate(self, now: datetime) -> list[Evaluation]:
        """Every rule's value per group over the window ending at ``now`` (exclusive)."""
        self._prune(now)
        out: list[Evaluation] = []
        for rule in self.rules:
            out.extend(self.evaluate_rule(rule, now))
        return out

    def evaluate_rule(self, rule: Rule, now: datetime) -> list[Evaluation]:
        if rule.series == "release":
            from lightkeeper.alerts.releases import evaluate_release_rule

            if self.release_source is None:
                return []
            return evaluate_release_rule(rule, self.release_source(), _OPS[rule.op], Evaluation)
        start = now - rule.window
        groups: dict[tuple[str, ...], list[MetricPoint]] = {}
        key = (rule.series, rule.metric)
        for p in itertools.chain(self._points.get(key, ()), self._partial.get(key, ())):
            if start <= p.minute < now and rule.matches(p.labels):
                groups.setdefault(tuple(p.labels.get(k, "") for k in rule.group_by), []).append(p)
        out: list[Evaluation] = []
        compare = _OPS[rule.op]
        for gkey, pts in groups.items():
            value, weight = aggregate(rule.aggregate, pts)
            enough = weight >= rule.min_weight
            breached = enough and value == value and compare(value, rule.threshold)  # NaN never breaches
            out.append(
                Evaluation(
                    rule,
                    dict(zip(rule.group_by, gkey, strict=True)),
                    value,
                    weight,
                    breached,
                    _top(rule, pts) if breached else [],
                )
            )
        return out


def _top(rule: Rule, points: list[MetricPoint]) -> list[tuple[dict[str, str], float]]:
    by_labels: dict[tuple[tuple[str, str], ...], list[MetricPoint]] = {}
    for p in points:
        by_labels.setdefault(tuple(sorted(p.labels.items())), []).append(p)
    ranked = [(dict(k), aggregate(rule.aggregate, v)[0]) for k, v in by_labels.items()]
    reverse = rule.op in (">", ">=", "!=", "==")
    ranked.sort(key=lambda t: t[1], reverse=reverse)
    return ranked[:3]
