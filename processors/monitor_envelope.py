"""The keyed hop's envelope: what the events hop hands the keyed monitors (drift, anomalies,
alerts) for one stored event, so that the monitors' hop decodes each event once and never
enriches or embeds it again.

One envelope is a JSON object (version :data:`ENVELOPE_VERSION`)::

    {"v": 1,
     "event": {...},                  # the event as decoded on the events hop
     "usage": {...} | null,           # token estimates made there (null: the event's own usage)
     "enrichment": {...},             # the cost columns computed there
     "scores": [{...}, ...],          # the event's score records
     "prompt_embedding": "<base64 float32>" | null,
     "response_embedding": "<base64 float32>" | null}

Feedback items travel to the keyed monitors too (key ``app|feedback``), for the alert rules on
the negative-feedback rate::

    {"v": 1, "feedback": "<the feedback item's JSON, as stored>"}

An envelope of another version is refused with a clear error: both hops must run the same
release.
"""

from __future__ import annotations

import base64
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import orjson

from lightkeeper.errors import SchemaError
from lightkeeper.processors._eventlist import EventList
from lightkeeper.processors.enrich import Enrichment
from lightkeeper.processors.pipeline import EVENTS_TABLE, Batch, RawEvent, StageContext
from lightkeeper.schemas.events import LLMCallEvent
from lightkeeper.schemas.records import ScoreRecord

log = logging.getLogger(__name__)

ENVELOPE_VERSION = 1
_COSTS = ("cost_usd", "cost_input_usd", "cost_output_usd", "cost_cached_input_usd", "cost_reasoning_usd")


@dataclass(slots=True)
class MonitorItem:
    """One stored event as the keyed monitors receive it."""

    event: LLMCallEvent
    enrichment: Enrichment
    scores: list[ScoreRecord]
    prompt_embedding: np.ndarray | None = None
    response_embedding: np.ndarray | None = None


def _vector(value: np.ndarray | None) -> str | None:
    if value is None:
        return None
    return base64.b64encode(np.ascontiguousarray(value, dtype="<f4").tobytes()).decode()


def _array(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    return np.frombuffer(base64.b64decode(value), dtype="<f4").astype(np.float32)


def _enrichment_json(enr: Enrichment) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _COSTS:
        value = getattr(enr, name)
        out[name] = None if value is None else str(value)
    out["pricing_version"] = enr.pricing_version
    out["cost_unknown_model"] = enr.cost_unknown_model
    out["priced_as"] = enr.priced_as
    return out


def _enrichment(data: dict[str, Any]) -> Enrichment:
    costs = [None if data[name] is None else Decimal(data[name]) for name in _COSTS]
    return Enrichment(
        cost_usd=costs[0],
        cost_input_usd=costs[1],
        cost_output_usd=costs[2],
        cost_cached_input_usd=costs[3],
        cost_reasoning_usd=costs[4],
        pricing_version=str(data["pricing_version"]),
        cost_unknown_model=bool(data["cost_unknown_model"]),
        priced_as=data.get("priced_as"),
    )


def encode_envelopes(batch: Batch) -> list[tuple[str, bytes]]:
    """``(app|model, envelope)`` per stored event of ``batch``: the event as decoded (its bytes
    when the fast path kept them, so nothing is decoded again to send it), the enrichment, the
    scores and the embeddings the stages computed."""
    scores: dict[str, list[ScoreRecord]] = defaultdict(list)
    for rec in batch.records.get("scores", []):
        if isinstance(rec, ScoreRecord):
            scores[rec.event_id].append(rec)
    events = batch.events
    rows = batch.rows.get(EVENTS_TABLE, [])
    prompts = batch.context.prompt_embeddings
    responses = batch.context.response_embeddings
    out: list[tuple[str, bytes]] = []
    for i, enrichment in enumerate(batch.enrichments):
        if isinstance(events, EventList):
            value, usage = events.wire(i)
        else:
            value, usage = events[i].model_dump_json().encode(), None
        row = rows[i]
        envelope = {
            "v": ENVELOPE_VERSION,
            "event": orjson.Fragment(value),
            "usage": usage,
            "enrichment": _enrichment_json(enrichment),
            "scores": [s.model_dump(mode="json") for s in scores.get(row["event_id"], ())],
            "prompt_embedding": _vector(prompts[i]) if prompts is not None else None,
            "response_embedding": _vector(responses[i]) if responses is not None else None,
        }
        out.append((f"{row['app']}|{row['model']}", orjson.dumps(envelope)))
    for item in batch.context.feedback_sources:
        out.append(
            (f"{item['app']}|feedback", orjson.dumps({"v": ENVELOPE_VERSION, "feedback": item["value"]}))
        )
    return out


def decode_envelope(value: bytes) -> MonitorItem | RawEvent:
    """One envelope, decoded once: the event's :class:`MonitorItem`, or a feedback item's
    :class:`RawEvent` (SchemaError when it is not an envelope of this version)."""
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise SchemaError(f"monitor envelope is not JSON: {exc}") from None
    if type(data) is not dict or data.get("v") != ENVELOPE_VERSION:
        version = data.get("v") if type(data) is dict else None
        raise SchemaError(
            f"monitor envelope version {version!r}; this worker reads version {ENVELOPE_VERSION}"
        )
    if "feedback" in data:
        if not isinstance(data["feedback"], str):
            raise SchemaError("unreadable monitor envelope: feedback is not a string")
        return RawEvent(data["feedback"].encode())
    try:
        event = data["event"]
        if data.get("usage"):
            event["usage"] = {**(event.get("usage") or {}), **data["usage"]}
        return MonitorItem(
            event=LLMCallEvent.model_validate(event),
            enrichment=_enrichment(data["enrichment"]),
            scores=[ScoreRecord.model_validate(s) for s in data.get("scores") or ()],
            prompt_embedding=_array(data.get("prompt_embedding")),
            response_embedding=_array(data.get("response_embedding")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaError(f"unreadable monitor envelope: {exc}") from None


def monitor_batch(items: Iterable[MonitorItem]) -> Batch:
    """The batch the keyed stages run on: the events with their enrichment, scores and
    embeddings already in place (no ``events`` rows: the events hop stored them)."""
    items = list(items)
    batch = Batch(
        events=EventList([item.event for item in items]),
        enrichments=[item.enrichment for item in items],
        rows={EVENTS_TABLE: []},
        records={"scores": [s for item in items for s in item.scores]},
    )
    if any(item.prompt_embedding is not None or item.response_embedding is not None for item in items):
        batch.context = StageContext(
            prompt_embeddings=[item.prompt_embedding for item in items],
            response_embeddings=[item.response_embedding for item in items],
        )
    return batch


def open_envelopes(values: Iterable[bytes | None]) -> tuple[Batch, list[RawEvent]]:
    """:func:`monitor_batch` of the readable event envelopes, and the feedback items; an
    unreadable envelope (only a bug or a mixed-release deployment makes one) is logged and
    skipped."""
    items: list[MonitorItem] = []
    feedback: list[RawEvent] = []
    for value in values:
        try:
            item = decode_envelope(value or b"")
        except SchemaError as exc:
            log.error("skipping a monitor envelope: %s", exc)
            continue
        if isinstance(item, RawEvent):
            feedback.append(item)
        else:
            items.append(item)
    return monitor_batch(items), feedback
