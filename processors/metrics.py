"""Prometheus metrics of the worker and the embedded runtime, served on ``/metrics``.

Each :class:`WorkerMetrics` owns its registry (several in one test process never clash).
Metrics: events processed (by outcome), events/s, batch sizes, insert latency per table,
dead letters (by stage), consumer lag per partition, store-unavailable retries, paused state.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

_BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class WorkerMetrics:
    """The metric families, plus a smoothed events/s gauge updated per batch."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "lightkeeper_worker_events", "Events processed, by outcome", ["outcome"], registry=r
        )
        self.events_per_second = Gauge(
            "lightkeeper_worker_events_per_second", "Events stored per second (10 s average)", registry=r
        )
        self.batch_size = Histogram(
            "lightkeeper_worker_batch_size", "Events per processed batch", buckets=_BATCH_BUCKETS, registry=r
        )
        self.insert_seconds = Histogram(
            "lightkeeper_worker_insert_seconds",
            "Store insert latency",
            ["table"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.process_seconds = Histogram(
            "lightkeeper_worker_process_seconds",
            "Pipeline time per batch",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.e2e_seconds = Histogram(
            "lightkeeper_worker_e2e_seconds",
            "Kafka produce time -> event row inserted (visible), per event",
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0),
            registry=r,
        )
        self.dead_letters = Counter(
            "lightkeeper_worker_dead_letters", "Events sent to the dead-letter topic", ["stage"], registry=r
        )
        self.lag = Gauge(
            "lightkeeper_worker_consumer_lag",
            "Messages behind the log end",
            ["topic", "partition"],
            registry=r,
        )
        self.store_retries = Counter(
            "lightkeeper_worker_store_unavailable",
            "Inserts retried because the store was unavailable",
            registry=r,
        )
        self.paused = Gauge(
            "lightkeeper_worker_paused", "1 while consumption is paused (store unavailable)", registry=r
        )
        self.stage_errors = Counter(
            "lightkeeper_worker_stage_errors", "Batches a stage failed on", ["stage"], registry=r
        )
        self._lock = threading.Lock()
        self._window: list[tuple[float, int]] = []

    def observe_stored(self, n: int) -> None:
        """Count ``n`` stored events and refresh events/s over the last 10 s."""
        self.events.labels("stored").inc(n)
        now = time.monotonic()
        with self._lock:
            self._window.append((now, n))
            while self._window and now - self._window[0][0] > 10.0:
                self._window.pop(0)
            span = max(now - self._window[0][0], 1.0)
            self.events_per_second.set(sum(c for _, c in self._window) / span)

    def quantile(self, name: str, q: float) -> float | None:
        """Estimate the ``q`` quantile of histogram ``name`` (linear within buckets)."""
        buckets: list[tuple[float, float]] = []
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name == f"{name}_bucket":
                    buckets.append((float(sample.labels["le"]), sample.value))
        return histogram_quantile(buckets, q)

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """Current value of a sample (tests, summaries); 0.0 when absent."""
        got = self.registry.get_sample_value(name, labels or {})
        return float(got or 0.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "0.0.0.0") -> Any:
        """Serve ``/metrics`` on ``host:port`` in a daemon thread; returns the server (or None
        when ``port`` is 0). ``server.shutdown()`` stops it."""
        if not port:
            return None
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server


def observe_many(histogram: Histogram, values: list[float]) -> None:
    """``histogram.observe(v)`` for every value, with one increment per bucket instead of two
    locked increments per value (the worker observes every stored event's latency). Falls back
    to ``observe`` if prometheus_client's internals ever change."""
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for v in values:
            histogram.observe(v)
        return
    counts = [0] * len(bounds)
    for v in values:
        counts[bisect_left(bounds, v)] += 1
    total.inc(sum(values))
    for i, n in enumerate(counts):
        if n:
            buckets[i].inc(n)


def histogram_quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus-style quantile from cumulative ``(upper bound, count)`` buckets."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            span = count - below
            return lower + (upper - lower) * ((rank - below) / span if span else 1.0)
        lower, below = upper, count
    return lower
