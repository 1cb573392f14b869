"""Per-minute metric series built from enriched events and scores, in event time.

A :class:`MetricPoint` is one minute of one metric for one label set. Points are additive:
two points for the same (series, metric, labels, minute) combine by summing ``value`` (for
sums) or by weighting ``value`` with ``weight`` (for rates and means), so late data can be
emitted as an extra point instead of rewriting history.

Series (the label sets an event contributes to):

* ``model``: ``{app, model}`` — every metric below;
* ``user``: ``{app, user_id}`` — request, error, cost, token and latency metrics;
* ``tag:<name>``: ``{app, <name>}`` for each configured tag (e.g. ``team``) — same as ``user``.

Metrics: ``requests``, ``errors``, ``error_rate``, ``cost_usd``, ``tokens``, ``input_tokens``,
``output_tokens``, ``latency_p95_ms`` (samples kept for window quantiles), and on the
``model`` series only ``toxicity_rate``, ``hallucination_rate``, ``hallucination_score``
(samples), ``injection_rate``, ``pii_rate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lightkeeper.metric_point import MINUTE, MetricPoint, floor_minute, quantile
from lightkeeper.schemas.events import LLMCallEvent
from lightkeeper.schemas.records import ScoreRecord

#: Samples kept per minute for quantile metrics (a deterministic stride subsample beyond).
MAX_SAMPLES = 256
OTHER = "__other__"

#: Metric name -> how it combines over minutes: "sum" (additive) or "mean" (weighted by weight).
METRICS: dict[str, str] = {
    "requests": "sum",
    "errors": "sum",
    "error_rate": "mean",
    "cost_usd": "sum",
    "tokens": "sum",
    "input_tokens": "sum",
    "output_tokens": "sum",
    "latency_p95_ms": "mean",
    "toxicity_rate": "mean",
    "hallucination_rate": "mean",
    "hallucination_score": "mean",
    "injection_rate": "mean",
    "pii_rate": "mean",
}

_QUALITY = {
    "toxicity_prompt": "toxicity",
    "toxicity_response": "toxicity",
    "hallucination": "hallucination",
    "injection": "injection",
    "pii_prompt": "pii",
    "pii_response": "pii",
}


def _subsample(values: list[float]) -> tuple[float, ...]:
    if len(values) <= MAX_SAMPLES:
        return tuple(values)
    stride = len(values) / MAX_SAMPLES
    return tuple(values[int(i * stride)] for i in range(MAX_SAMPLES))


@dataclass(slots=True)
class _Bucket:
    """Accumulators of one minute for one (series, labels)."""

    requests: int = 0
    errors: int = 0
    cost: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    latencies: list[float] = field(default_factory=list)
    scored: dict[str, set[str]] = field(default_factory=dict)
    flagged: dict[str, set[str]] = field(default_factory=dict)
    hallucination_scores: list[float] = field(default_factory=list)

    def points(self, series: str, labels: dict[str, str], minute: datetime) -> list[MetricPoint]:
        out: list[MetricPoint] = []

        def add(metric: str, value: float, weight: float = 1.0, samples: tuple[float, ...] = ()) -> None:
            out.append(
                MetricPoint(metric, dict(labels), minute, float(value), float(weight), samples, series)
            )

        if self.requests:
            add("requests", self.requests)
            add("errors", self.errors)
            add("error_rate", self.errors / self.requests, self.requests)
            add("cost_usd", self.cost)
            add("tokens", self.input_tokens + self.output_tokens)
            add("input_tokens", self.input_tokens)
            add("output_tokens", self.output_tokens)
        if self.latencies:
            lat = self.latencies
            add("latency_p95_ms", quantile(lat, 0.95), len(lat), _subsample(lat))
        for kind, ids in self.scored.items():
            if ids:
                add(f"{kind}_rate", len(self.flagged.get(kind, ())) / len(ids), len(ids))
        if self.hallucination_scores:
            scores = self.hallucination_scores
            add("hallucination_score", sum(scores) / len(scores), len(scores), _subsample(scores))
        return out


def _event_cost(event: LLMCallEvent, cost: float | None) -> float:
    if cost is not None:
        return float(cost)
    extra = getattr(event, "cost_usd", None)  # enrichment may travel as an extra field
    try:
        return float(extra) if extra is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


class MinuteAggregator:
    """Accumulates events and scores into per-minute buckets and emits closed minutes.

    A minute ``m`` is closed once the event-time watermark (the latest event time seen)
    passes ``m + 1 min + lateness``. Data arriving for a closed minute re-opens it and is
    emitted at the next flush as an additional point (points are additive). The number of
    distinct users / tag values per minute is capped at ``max_keys``; the rest fold into
    ``__other__`` so memory stays bounded.
    """

    def __init__(
        self,
        *,
        lateness: timedelta = timedelta(seconds=30),
        user_series: bool = True,
        tag_series: Iterable[str] = (),
        max_keys: int = 10_000,
    ) -> None:
        self.lateness = lateness
        self.user_series = user_series
        self.tag_series = tuple(tag_series)
        self.max_keys = max_keys
        self.watermark: datetime | None = None
        self._buckets: dict[datetime, dict[tuple[str, tuple[tuple[str, str], ...]], _Bucket]] = {}

    def _bucket(self, minute: datetime, series: str, labels: Mapping[str, str]) -> _Bucket:
        per_minute = self._buckets.setdefault(minute, {})
        key = (series, tuple(sorted(labels.items())))
        bucket = per_minute.get(key)
        if bucket is None:
            if series != "model" and len(per_minute) >= self.max_keys:
                folded = {k: (v if k == "app" else OTHER) for k, v in labels.items()}
                key = (series, tuple(sorted(folded.items())))
                bucket = per_minute.get(key)
            if bucket is None:
                bucket = per_minute[key] = _Bucket()
        return bucket

    def _advance(self, ts: datetime) -> None:
        if self.watermark is None or ts > self.watermark:
            self.watermark = ts

    def add_event(self, event: LLMCallEvent, cost_usd: float | None = None) -> None:
        """Count one enriched event (``cost_usd`` from enrichment; None counts as 0)."""
        self.add_call(
            event.start_time,
            event.app,
            event.model,
            user_id=event.user_id,
            tags=event.tags,
            error=event.is_error,
            cost_usd=_event_cost(event, cost_usd),
            input_tokens=event.usage.input_tokens or 0,
            output_tokens=event.usage.output_tokens or 0,
            duration_ms=event.duration_ms,
        )

    def add_call(
        self,
        start_time: datetime,
        app: str,
        model: str,
        *,
        user_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        error: bool = False,
        cost_usd: float = 0.0,
        input_tokens: int = 0,
        output_tokens: int = 0,
        duration_ms: float | None = None,
    ) -> None:
        """Count one call given its fields (what :meth:`add_event` extracts from an event)."""
        ts = start_time if start_time.tzinfo else start_time.replace(tzinfo=UTC)
        self._advance(ts)
        minute = floor_minute(ts)
        targets: list[tuple[str, dict[str, str]]] = [("model", {"app": app, "model": model})]
        if self.user_series and user_id:
            targets.append(("user", {"app": app, "user_id": user_id}))
        for tag in self.tag_series:
            if tags and tag in tags:
                targets.append((f"tag:{tag}", {"app": app, tag: tags[tag]}))
        for series, labels in targets:
            b = self._bucket(minute, series, labels)
            b.requests += 1
            b.errors += 1 if error else 0
            b.cost += cost_usd
            b.input_tokens += input_tokens
            b.output_tokens += output_tokens
            if duration_ms is not None:
                b.latencies.append(float(duration_ms))

    def add_events(self, events: Iterable[LLMCallEvent], costs: Iterable[float | None] | None = None) -> None:
        events = list(events)
        cost_list = list(costs) if costs is not None else [None] * len(events)
        for event, cost in zip(events, cost_list, strict=True):
            self.add_event(event, cost)

    def add_score(self, score: ScoreRecord) -> None:
        """Count one detector verdict toward the quality rates of its (app, model) minute."""
        if score.score is None:
            return
        self.add_verdict(
            score.event_id,
            str(score.detector),
            float(score.score),
            score.flagged,
            score.app,
            score.request_model or "unknown",
            score.event_time,
        )

    def add_verdict(
        self,
        event_id: str,
        detector: str,
        score: float,
        flagged: bool,
        app: str,
        model: str,
        event_time: datetime,
    ) -> None:
        """Count one verdict given its fields (what :meth:`add_score` extracts from a record)."""
        kind = _QUALITY.get(detector)
        if kind is None:
            return
        b = self._bucket(floor_minute(event_time), "model", {"app": app, "model": model})
        b.scored.setdefault(kind, set()).add(event_id)
        if flagged:
            b.flagged.setdefault(kind, set()).add(event_id)
        if kind == "hallucination":
            b.hallucination_scores.append(score)

    def add_scores(self, scores: Iterable[ScoreRecord]) -> None:
        for score in scores:
            self.add_score(score)

    def flush(self, watermark: datetime | None = None) -> list[MetricPoint]:
        """Emit and forget the minutes closed at ``watermark`` (default: latest event time)."""
        if watermark is not None:
            self._advance(watermark)
        if self.watermark is None:
            return []
        horizon = self.watermark - MINUTE - self.lateness
        return self._emit([m for m in self._buckets if m <= horizon])

    def flush_all(self) -> list[MetricPoint]:
        """Emit every open minute (shutdown, end of a replay)."""
        return self._emit(list(self._buckets))

    def _emit(self, minutes: list[datetime]) -> list[MetricPoint]:
        out: list[MetricPoint] = []
        for minute in sorted(minutes):
            for (series, labels), bucket in self._buckets.pop(minute).items():
                out.extend(bucket.points(series, dict(labels), minute))
        return out

    def snapshot(self) -> list[MetricPoint]:
        """Points of the still-open minutes, without closing them (for streaming rules that must
        react before a minute ends). Call again for fresh values; they replace, not add."""
        out: list[MetricPoint] = []
        for minute in sorted(self._buckets):
            for (series, labels), bucket in self._buckets[minute].items():
                out.extend(bucket.points(series, dict(labels), minute))
        return out

    def open_minutes(self) -> int:
        return len(self._buckets)


def points_by_minute(points: Iterable[MetricPoint]) -> dict[datetime, list[MetricPoint]]:
    """Group points by minute, in minute order."""
    out: dict[datetime, list[MetricPoint]] = {}
    for p in sorted(points, key=lambda p: p.minute):
        out.setdefault(p.minute, []).append(p)
    return out


def point_to_dict(point: MetricPoint) -> dict[str, Any]:
    """JSON-friendly form (for logs and the anomalies topic's details)."""
    return {
        "metric": point.metric,
        "series": point.series,
        "labels": point.labels,
        "minute": point.minute.isoformat(),
        "value": point.value,
        "weight": point.weight,
    }
