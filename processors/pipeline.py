"""The processing pipeline: plain functions over batches, shared by the faust worker
(``lightkeeper.worker.faust_app``) and the embedded runtime (``lightkeeper.runtime``).

A batch of raw event bytes goes through::

    decode (bad bytes -> dead letter) -> enrich (tokens, cost) -> event rows (bad row -> dead
    letter) -> stages (scores, drift, anomalies, alerts: each adds rows and records)

and comes out as a :class:`Batch`: rows per store table, records per result topic and dead
letters. The shells (faust agent, in-process queue consumer) only move bytes in, hand the
batch to :class:`lightkeeper.processors.sink.Sink`, publish, and acknowledge.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

from lightkeeper.errors import LightkeeperError, SchemaError
from lightkeeper.processors._eventlist import EventList
from lightkeeper.processors.enrich import Enricher, Enrichment
from lightkeeper.processors.erased import ErasedSubjects
from lightkeeper.processors.feedback import FEEDBACK_TABLE, feedback_points, feedback_rows, split_feedback
from lightkeeper.processors.messages import DeadLetter, RawEvent
from lightkeeper.schemas._fastdecode import decode_row
from lightkeeper.schemas.codec import decode_event
from lightkeeper.schemas.events import LLMCallEvent
from lightkeeper.schemas.rows import event_row

if TYPE_CHECKING:
    import numpy as np

    from lightkeeper.metric_point import MetricPoint
    from lightkeeper.schemas.records import AnomalyRecord, DriftRecord

log = logging.getLogger(__name__)

EVENTS_TABLE = "events"
FAST_DECODE_ENV = "LIGHTKEEPER_PIPELINE_FAST_DECODE"


Embeddings = list["np.ndarray | None"]
"""One vector per event of a batch (None where the text was empty)."""


@dataclass(slots=True)
class StageContext:
    """What a stage hands to later stages of the same batch."""

    prompt_embeddings: Embeddings | None = None
    """One vector per event (scores stage, or drift when no scorer embedded), aligned with
    ``Batch.events``."""
    response_embeddings: Embeddings | None = None
    drift: list[DriftRecord] = field(default_factory=list)
    """Drift records of this batch (drift stage) for the alert rules."""
    points: list[MetricPoint] = field(default_factory=list)
    """Minute points closed in this batch (anomaly stage) for the alert rules."""
    anomalies: list[AnomalyRecord] = field(default_factory=list)
    watermark: datetime | None = None
    """Latest event time the anomaly stage has seen; None before its first event."""
    lateness: timedelta = timedelta(0)
    """How long a minute stays open after the watermark passes it (negative: all closed)."""
    truncated_texts: set[str] = field(default_factory=set)
    """Texts the encoder cut at its token limit (scores stage): their scores say ``truncated``."""
    feedback_points: list[MetricPoint] = field(default_factory=list)
    """``negative_feedback_rate`` points of this batch's feedback items, for the alert rules."""
    feedback_sources: list[dict[str, str]] = field(default_factory=list)
    """``{"app", "value"}`` per stored feedback item (the original JSON), for the keyed monitors."""
    erased_dropped: int = 0
    """Late events of erased subjects dropped from this batch."""


@dataclass
class Batch:
    """Everything one batch produced. ``events``/``enrichments``/``sources`` are aligned: the
    i-th event came from ``sources[i]`` and its row is ``rows["events"][i]``."""

    events: Sequence[LLMCallEvent] = field(default_factory=list)
    """The stored events (an :class:`EventList` when decoded by the fast path: pydantic
    models are built from the bytes only when a stage or the caller reads them)."""
    enrichments: list[Enrichment] = field(default_factory=list)
    sources: list[RawEvent] = field(default_factory=list)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Store table -> rows to insert (``events`` first)."""
    records: dict[str, list[BaseModel]] = field(default_factory=dict)
    """Result topic name (``scores``, ``drift``, ``anomalies``, ``alerts``) -> records."""
    dead: list[DeadLetter] = field(default_factory=list)
    stage_errors: dict[str, str] = field(default_factory=dict)
    """Stage name -> error of a stage that failed on this batch (its outputs are missing)."""
    context: StageContext = field(default_factory=StageContext)
    """What a stage hands to later ones (embeddings, per-minute points, drift records...)."""

    @property
    def size(self) -> int:
        return len(self.events) + len(self.dead)

    def add_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        self.rows.setdefault(table, []).extend(rows)

    def add_records(self, topic: str, records: Iterable[BaseModel]) -> None:
        self.records.setdefault(topic, []).extend(records)

    def drop_event_rows(self, indexes: set[int]) -> None:
        """Remove events (and their rows) the store refused; their dead letters are added by
        the caller."""
        keep = [i for i in range(len(self.events)) if i not in indexes]
        events = self.events
        self.events = events.subset(keep) if isinstance(events, EventList) else [events[i] for i in keep]
        self.enrichments = [self.enrichments[i] for i in keep]
        self.sources = [self.sources[i] for i in keep]
        rows = self.rows.get(EVENTS_TABLE, [])
        self.rows[EVENTS_TABLE] = [rows[i] for i in keep if i < len(rows)]
        context = self.context
        if context.prompt_embeddings is not None:
            context.prompt_embeddings = [context.prompt_embeddings[i] for i in keep]
        if context.response_embeddings is not None:
            context.response_embeddings = [context.response_embeddings[i] for i in keep]


@runtime_checkable
class Stage(Protocol):
    """A step after enrichment. ``process`` reads ``batch.events`` (+ enrichments) and adds
    rows (``batch.add_rows``) and records (``batch.add_records``). It must not drop events;
    an exception fails only this stage for this batch (recorded in ``batch.stage_errors``)."""

    name: str

    def process(self, batch: Batch) -> None: ...


def decode_batch(raws: Sequence[RawEvent]) -> tuple[list[LLMCallEvent], list[RawEvent], list[DeadLetter]]:
    """Parse raw bytes into events; anything invalid becomes a dead letter with the reason."""
    events: list[LLMCallEvent] = []
    sources: list[RawEvent] = []
    dead: list[DeadLetter] = []
    for raw in raws:
        if raw.value is None or not raw.value:
            dead.append(DeadLetter.of(raw, "empty message", "decode"))
            continue
        try:
            events.append(decode_event(raw.value))
        except SchemaError as exc:
            dead.append(DeadLetter.of(raw, str(exc), "decode"))
            continue
        except Exception as exc:
            dead.append(DeadLetter.of(raw, f"undecodable: {exc!r}", "decode"))
            continue
        sources.append(raw)
    return events, sources, dead


class Pipeline:
    """Decode, enrich, build rows and run the stages over one batch (synchronous, CPU-bound:
    the shells run it in a worker thread)."""

    def __init__(
        self,
        enricher: Enricher | None = None,
        stages: Sequence[Stage] = (),
        *,
        fast: bool | None = None,
        erased: ErasedSubjects | None = None,
    ) -> None:
        self.enricher = enricher or Enricher()
        self.stages = list(stages)
        self.erased = erased
        """Late events of erased subjects are dropped (and counted) before the stages run."""
        self.fast = os.environ.get(FAST_DECODE_ENV, "1") != "0" if fast is None else fast
        """Decode with :mod:`lightkeeper.schemas._fastdecode` (pydantic for anything unusual)
        when no stage reads the events; False decodes every event with pydantic (the reference
        path, same rows). Default: on, unless the environment sets
        ``LIGHTKEEPER_PIPELINE_FAST_DECODE=0``. With stages, events are decoded with pydantic
        once (the stages read the models), never twice."""

    def process(self, raws: Sequence[RawEvent]) -> Batch:
        raws, feedback = split_feedback(raws)
        if not self.fast or self.stages:
            events, sources, dead = decode_batch(raws)
            return self.process_events(events, sources, dead, feedback=feedback)
        batch = Batch()
        parsed = EventList()
        rows: list[dict[str, Any]] = []
        enricher = self.enricher
        for raw in raws:
            value = raw.value
            fast = decode_row(value) if value else None
            if fast is None:
                decoded, _, dead = decode_batch([raw])
                if dead:
                    batch.dead.extend(dead)
                    continue
                self._add(batch, parsed, rows, decoded[0], raw)
                continue
            row, usage, messages, calls = fast
            try:
                enrichment = enricher.enrich_row(row, usage, messages, calls)
                row.update(enrichment.row_columns())
            except Exception as exc:
                batch.dead.append(_row_dead_letter(raw, exc, row["event_id"]))
                continue
            parsed.append_fast(value, usage)
            batch.enrichments.append(enrichment)
            batch.sources.append(raw)
            rows.append(row)
        batch.events = parsed
        batch.rows[EVENTS_TABLE] = rows
        self._drop_erased(batch)
        self.add_feedback(batch, feedback)
        self.run_stages(batch)
        return batch

    def add_feedback(self, batch: Batch, raws: Sequence[RawEvent]) -> None:
        """Feedback items of the batch as ``feedback`` rows (erased subjects' dropped too) and
        their ``negative_feedback_rate`` points for the alert rules."""
        if not raws:
            return
        pairs, dead = feedback_rows(raws)
        batch.dead.extend(dead)
        if self.erased is not None and pairs:
            drop = self.erased.drop_indexes([row for _, row in pairs])
            pairs = [pair for i, pair in enumerate(pairs) if i not in drop]
        rows = [row for _, row in pairs]
        batch.add_rows(FEEDBACK_TABLE, rows)
        batch.context.feedback_points = feedback_points(rows)
        batch.context.feedback_sources = [
            {"app": row["app"], "value": raw.value.decode()} for raw, row in pairs
        ]

    def _add(
        self, batch: Batch, events: EventList, rows: list[dict[str, Any]], ev: LLMCallEvent, src: RawEvent
    ) -> None:
        """Enrich one parsed event and add it with its row (or its dead letter) to ``batch``."""
        try:
            enrichment = self.enricher.enrich(ev)
            row = event_row(ev, **enrichment.columns())
        except Exception as exc:
            batch.dead.append(_row_dead_letter(_ensure_bytes(src, ev), exc, ev.event_id))
            return
        events.append(ev)
        batch.enrichments.append(enrichment)
        batch.sources.append(src)
        rows.append(row)

    def process_events(
        self,
        events: Sequence[LLMCallEvent],
        sources: Sequence[RawEvent] | None = None,
        dead: Sequence[DeadLetter] = (),
        records: Mapping[str, Sequence[BaseModel]] | None = None,
        *,
        feedback: Sequence[RawEvent] = (),
    ) -> Batch:
        """Like :meth:`process` for already-parsed events. ``records`` pre-fills
        ``batch.records`` (derived records computed upstream, e.g. scores for the keyed
        monitors of the faust worker)."""
        batch = Batch(dead=list(dead))
        for topic, recs in (records or {}).items():
            batch.add_records(topic, recs)
        srcs = list(sources) if sources is not None else [RawEvent(b"") for _ in events]
        rows: list[dict[str, Any]] = []
        parsed = EventList()
        for ev, src in zip(events, srcs, strict=True):
            self._add(batch, parsed, rows, ev, src)
        batch.events = parsed
        batch.rows[EVENTS_TABLE] = rows
        self._drop_erased(batch)
        self.add_feedback(batch, feedback)
        self.run_stages(batch)
        return batch

    def _drop_erased(self, batch: Batch) -> None:
        if self.erased is None or not batch.events:
            return
        drop = self.erased.drop_indexes(batch.rows[EVENTS_TABLE])
        if drop:
            batch.drop_event_rows(drop)
            batch.context.erased_dropped = len(drop)
            log.info("dropped %d late events of erased subjects", len(drop))

    def run_stages(self, batch: Batch) -> None:
        """Run the stages over a batch whose events are enriched (an exception fails only that
        stage for this batch, recorded in ``batch.stage_errors``)."""
        for stage in self.stages:
            if not batch.events and not (
                getattr(stage, "takes_feedback", False) and batch.context.feedback_points
            ):
                continue
            try:
                stage.process(batch)
            except Exception as exc:
                log.exception("stage %s failed on a batch of %d events", stage.name, len(batch.events))
                batch.stage_errors[stage.name] = repr(exc)

    def finish(self) -> Batch:
        """Flush the stages' open state (minutes not yet closed, pending checks) into a final
        batch without events: call at shutdown or at the end of a replay, then store it."""
        batch = Batch()
        batch.rows[EVENTS_TABLE] = []
        for stage in self.stages:
            finish = getattr(stage, "finish", None)
            if finish is None:
                continue
            try:
                finish(batch)
            except Exception as exc:
                log.exception("stage %s failed to finish", stage.name)
                batch.stage_errors[stage.name] = repr(exc)
        return batch


def _row_dead_letter(src: RawEvent, exc: Exception, event_id: str) -> DeadLetter:
    if isinstance(exc, LightkeeperError):
        return DeadLetter.of(src, str(exc), "row")
    log.error("cannot build the row of event %s", event_id, exc_info=exc)
    return DeadLetter.of(src, f"row: {exc!r}", "row")


def _ensure_bytes(src: RawEvent, ev: LLMCallEvent) -> RawEvent:
    if src.value:
        return src
    return RawEvent(ev.model_dump_json().encode(), src.key, src.topic, src.partition, src.offset)
