"""Stateful monitoring stages: drift (``processors.drift``), anomalies (``processors.anomaly``)
and alert rules (``lightkeeper.alerts.lifecycle``), wrapped behind the pipeline's :class:`Stage` protocol.

State (windows, baselines, active alerts) lives in the stage objects, per (app, model[, user])
key. In the faust worker these stages run on the stream repartitioned by ``app|model`` so each
key's state sits on one worker; the embedded runtime has a single process.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import numpy as np

from lightkeeper.processors.pipeline import Batch

log = logging.getLogger(__name__)


def _cost(value: Any) -> float | None:
    return None if value is None else float(value)


class DriftStage:
    """Embeds prompts and responses (shared embedder, cached) and feeds the drift monitor;
    adds ``drift`` rows/records and hands the records to later stages (``extras['drift']``)."""

    name = "drift"

    def __init__(self, monitor: Any, embedder: Any) -> None:
        self.monitor = monitor
        self.embedder = embedder

    def _embed(self, texts: list[str]) -> list[np.ndarray | None]:
        wanted = [i for i, t in enumerate(texts) if t]
        out: list[np.ndarray | None] = [None] * len(texts)
        if wanted:
            vectors = self.embedder.embed([texts[i] for i in wanted])
            for j, i in enumerate(wanted):
                out[i] = vectors[j]
        return out

    def process(self, batch: Batch) -> None:
        from lightkeeper.store.rows import drift_row

        # Reuse the vectors the scores stage computed (one embedding per text per event).
        prompts = batch.extras.get("prompt_embeddings") or self._embed(
            [ev.prompt_text() for ev in batch.events]
        )
        responses = batch.extras.get("response_embeddings") or self._embed(
            [ev.response_text() for ev in batch.events]
        )
        batch.extras["prompt_embeddings"] = prompts
        observations = [
            self.monitor.observation(ev, p, r, cost_usd=_cost(enr.cost_usd))
            for ev, enr, p, r in zip(batch.events, batch.enrichments, prompts, responses, strict=True)
        ]
        records = self.monitor.observe(observations)
        batch.extras["drift"] = records
        batch.add_rows("drift", [drift_row(r) for r in records])
        batch.add_records("drift", records)


class AnomalyStage:
    """Per-minute series (requests, cost, tokens, errors, latency, quality rates) per model and
    per user, closed minutes checked against robust baselines; adds ``anomalies`` rows/records
    and hands the minute points to the alert stage (``extras['points']``)."""

    name = "anomalies"

    def __init__(self, aggregator: Any, detector: Any) -> None:
        self.aggregator = aggregator
        self.detector = detector

    def process(self, batch: Batch) -> None:
        for ev, enr in zip(batch.events, batch.enrichments, strict=True):
            self.aggregator.add_event(ev, _cost(enr.cost_usd))
        self.aggregator.add_scores(batch.records.get("scores", []))
        self._emit(batch, self.aggregator.flush())

    def finish(self, batch: Batch) -> None:
        """Close every open minute (end of a run)."""
        self._emit(batch, self.aggregator.flush_all(), final=True)

    def _emit(self, batch: Batch, points: list[Any], final: bool = False) -> None:
        from lightkeeper.store.rows import anomaly_row

        anomalies = self.detector.update(points)
        batch.extras["points"] = points
        batch.extras["watermark"] = self.aggregator.watermark
        batch.extras["lateness"] = timedelta(minutes=-1) if final else self.aggregator.lateness
        batch.extras["anomalies"] = anomalies
        batch.add_rows("anomalies", [anomaly_row(r) for r in anomalies])
        batch.add_records("anomalies", anomalies)


class _Collect:
    def __init__(self) -> None:
        self.records: list[Any] = []

    def write(self, records: list[Any]) -> None:
        self.records.extend(records)


class AlertStage:
    """Evaluates the alert rules on the minute points, drift and anomaly records at the latest
    closed minute; alert state changes become ``alerts`` rows/records and notifications go to the
    engine's persistent outbox. The host process (faust worker or embedded runtime) runs
    ``dispatcher`` (:meth:`run_dispatcher`) so the outbox is delivered to the routes."""

    name = "alerts"
    takes_feedback = True
    """Runs on batches holding only feedback too (their negative_feedback_rate points)."""

    def __init__(self, engine: Any, dispatcher: Any = None) -> None:
        self.engine = engine
        self.dispatcher = dispatcher
        self._last_tick: Any = None

    def attach_store(self, client: Any, database: str) -> None:
        """Record delivery status updates in the store's ``alerts`` table."""
        from lightkeeper.alerts.store import StoreHistory

        if self.dispatcher is not None:
            self.dispatcher.history = StoreHistory(client, database=database).write
        if any(rule.series == "release" for rule in self.engine.evaluator.rules):
            from lightkeeper.alerts.releases import ReleaseSource
            from lightkeeper.report.releases import latest_comparisons

            period = min(r.window for r in self.engine.evaluator.rules if r.series == "release")
            self.engine.evaluator.release_source = ReleaseSource(
                lambda: latest_comparisons(client, database, max_apps=50), period.total_seconds()
            )

    async def run_dispatcher(self, stop: Any) -> None:
        """Deliver notifications until ``stop`` (an ``asyncio.Event``) is set, then drain
        briefly and close the channels; what is left stays in the outbox for the next start."""
        if self.dispatcher is None:
            return
        try:
            await self.dispatcher.run(stop)
            await self.dispatcher.drain(max_wait_s=5.0)
        finally:
            await self.dispatcher.aclose()

    def finish(self, batch: Batch) -> None:
        """Evaluate once more after the anomaly stage closed every minute."""
        self.process(batch)

    def process(self, batch: Batch) -> None:
        from lightkeeper.processors.anomaly import floor_minute
        from lightkeeper.store.rows import alert_row

        self.engine.observe(batch.extras.get("points", []))
        self.engine.observe(batch.extras.get("feedback_points", []))
        self.engine.observe_drift(batch.extras.get("drift", []))
        self.engine.observe_anomalies(batch.extras.get("anomalies", []))
        watermark = batch.extras.get("watermark")
        if watermark is None:
            return
        now = floor_minute(watermark - batch.extras.get("lateness", timedelta(0)))
        if self._last_tick is not None and now <= self._last_tick:
            return
        self._last_tick = now
        sink = _Collect()
        previous = self.engine.history
        self.engine.history = sink
        try:
            self.engine.tick(now)
        finally:
            self.engine.history = previous
        if previous is not None and sink.records:
            previous.write(sink.records)
        batch.add_rows("alerts", [alert_row(r) for r in sink.records])
        batch.add_records("alerts", sink.records)


def drift_stage(settings: Any) -> DriftStage:
    from lightkeeper.processors.drift import DriftConfig, DriftMonitor
    from lightkeeper.processors.embedding import get_embedder

    config = DriftConfig.build(getattr(settings, "drift", None) or {})
    return DriftStage(DriftMonitor(config), get_embedder())


def anomaly_stage(settings: Any) -> AnomalyStage:
    from lightkeeper.processors.anomaly import AnomalyDetector, MinuteAggregator

    return AnomalyStage(MinuteAggregator(), AnomalyDetector())


def alert_stage(settings: Any) -> AlertStage | None:
    """Rules from ``worker.alert_rules`` (a file), ``worker.alert_rules_inline`` or
    ``lightkeeper.alerts.rules_file``; routes, retries, outbox and silences from the ``alerts`` section."""
    from lightkeeper.alerts.rules import load_rules, parse_rules
    from lightkeeper.alerts.runtime import build_alerting
    from lightkeeper.alerts.settings import AlertSettings

    alert_settings = AlertSettings.load(
        data_dir=settings.data_dir,
        store__url=settings.store.url,
        store__database=settings.store.database,
    )
    routes = set(alert_settings.routes)
    path = getattr(settings, "alert_rules", None)
    inline = getattr(settings, "alert_rules_inline", None)
    rules = (
        load_rules(path, routes=routes)
        if path
        else parse_rules(inline, source="worker.alert_rules_inline", routes=routes)
        if inline
        else None
    )
    engine, dispatcher = build_alerting(alert_settings, rules=rules)
    if not engine.rules:
        log.info("no alert rules configured (worker.alert_rules / alerts.rules_file): alert stage off")
        return None
    return AlertStage(engine, dispatcher)
