"""The alert stage: evaluates the alert rules (:mod:`lightkeeper.alerts`) on the minute points,
drift and anomaly records the monitoring stages (:mod:`lightkeeper.processors._monitor_stages`)
hand on, behind the pipeline's :class:`Stage` protocol. It joins two independent layers
(processors and alerts), so it lives with the shells that assemble the pipeline.
"""

from __future__ import annotations

import logging
from typing import Any

from lightkeeper.alerts.releases import ReleaseSource
from lightkeeper.alerts.rules import load_rules, parse_rules
from lightkeeper.alerts.runtime import build_alerting
from lightkeeper.alerts.settings import AlertSettings
from lightkeeper.alerts.store import StoreHistory
from lightkeeper.metric_point import floor_minute
from lightkeeper.processors.pipeline import Batch
from lightkeeper.schemas.rows import alert_row
from lightkeeper.store.releases import latest_comparisons

log = logging.getLogger(__name__)


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
        if self.dispatcher is not None:
            self.dispatcher.history = StoreHistory(client, database=database).write
        if any(rule.series == "release" for rule in self.engine.evaluator.rules):
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
        context = batch.context
        self.engine.observe(context.points)
        self.engine.observe(context.feedback_points)
        self.engine.observe_drift(context.drift)
        self.engine.observe_anomalies(context.anomalies)
        if context.watermark is None:
            return
        now = floor_minute(context.watermark - context.lateness)
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


def alert_stage(settings: Any) -> AlertStage | None:
    """Rules from ``worker.alert_rules`` (a file), ``worker.alert_rules_inline`` or
    ``lightkeeper.alerts.rules_file``; routes, retries, outbox and silences from the ``alerts`` section."""
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
