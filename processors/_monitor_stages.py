"""Stateful monitoring stages: drift (``processors.drift``) and anomalies (``processors.anomaly``),
wrapped behind the pipeline's :class:`Stage` protocol (the alert stage, which reads their
output, is assembled by the shells: :mod:`lightkeeper.worker.alert_stage`).

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
    adds ``drift`` rows/records and hands the records to later stages (``batch.context.drift``)."""

    name = "drift"

    def __init__(self, monitor: Any, embedder: Any) -> None:
        self.monitor = monitor
        self.embedder = embedder

    def _embed(self, texts: list[str], known: list[np.ndarray | None] | None) -> list[np.ndarray | None]:
        """One vector per text: those already computed (``known``, by the scores stage or the
        events hop), the missing ones of non-empty texts embedded now."""
        out: list[np.ndarray | None] = list(known) if known is not None else [None] * len(texts)
        wanted = [i for i, t in enumerate(texts) if t and out[i] is None]
        if wanted:
            vectors = self.embedder.embed([texts[i] for i in wanted])
            for j, i in enumerate(wanted):
                out[i] = vectors[j]
        return out

    def process(self, batch: Batch) -> None:
        from lightkeeper.schemas.rows import drift_row

        # Reuse the vectors the scores stage computed (one embedding per text per event).
        context = batch.context
        prompts = self._embed([ev.prompt_text() for ev in batch.events], context.prompt_embeddings)
        responses = self._embed([ev.response_text() for ev in batch.events], context.response_embeddings)
        context.prompt_embeddings = prompts
        context.response_embeddings = responses
        observations = [
            self.monitor.observation(ev, p, r, cost_usd=_cost(enr.cost_usd))
            for ev, enr, p, r in zip(batch.events, batch.enrichments, prompts, responses, strict=True)
        ]
        records = self.monitor.observe(observations)
        context.drift = records
        batch.add_rows("drift", [drift_row(r) for r in records])
        batch.add_records("drift", records)


class AnomalyStage:
    """Per-minute series (requests, cost, tokens, errors, latency, quality rates) per model and
    per user, closed minutes checked against robust baselines; adds ``anomalies`` rows/records
    and hands the minute points to the alert stage (``batch.context.points``)."""

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
        from lightkeeper.schemas.rows import anomaly_row

        anomalies = self.detector.update(points)
        context = batch.context
        context.points = points
        context.watermark = self.aggregator.watermark
        context.lateness = timedelta(minutes=-1) if final else self.aggregator.lateness
        context.anomalies = anomalies
        batch.add_rows("anomalies", [anomaly_row(r) for r in anomalies])
        batch.add_records("anomalies", anomalies)


def drift_stage(settings: Any) -> DriftStage:
    from lightkeeper.processors.drift import DriftConfig, DriftMonitor
    from lightkeeper.processors.embedding import get_embedder

    config = DriftConfig.build(getattr(settings, "drift", None) or {})
    return DriftStage(DriftMonitor(config), get_embedder())


def anomaly_stage(settings: Any) -> AnomalyStage:
    from lightkeeper.processors.anomaly import AnomalyDetector, MinuteAggregator

    return AnomalyStage(MinuteAggregator(), AnomalyDetector())
