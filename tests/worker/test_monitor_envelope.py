"""The keyed hop: the events hop hands each stored event to the keyed monitors in a typed,
versioned envelope with its enrichment, scores and embeddings, so the monitors' hop decodes
each event once and never enriches or embeds it again."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from lightkeeper.errors import SchemaError
from lightkeeper.processors import _eventlist, pipeline
from lightkeeper.processors._monitor_stages import DriftStage
from lightkeeper.processors.drift import DriftConfig, DriftMonitor
from lightkeeper.processors.enrich import Enricher
from lightkeeper.processors.monitor_envelope import ENVELOPE_VERSION, decode_envelope, encode_envelopes
from lightkeeper.processors.pipeline import Batch, Pipeline, RawEvent
from lightkeeper.schemas.records import Detector, ScoreRecord
from lightkeeper.worker.faust_app import run_monitors
from tests.worker.helpers import raw

DIM = 8


class EmbeddingStage:
    """Stands in for the scores stage: one vector per text, one score per event."""

    name = "scores"

    def process(self, batch: Batch) -> None:
        batch.context.prompt_embeddings = [
            np.full(DIM, i, dtype=np.float32) for i in range(len(batch.events))
        ]
        batch.context.response_embeddings = [
            np.full(DIM, -i, dtype=np.float32) for i in range(len(batch.events))
        ]
        batch.add_records(
            "scores",
            [
                ScoreRecord(
                    event_id=ev.event_id, detector=Detector.TOXICITY_PROMPT, score=0.25, model_version="t"
                )
                for ev in batch.events
            ],
        )


class RefusingEmbedder:
    def embed(self, texts: list[str]) -> Any:
        raise AssertionError(f"embedded again: {texts[:2]}")


class RefusingEnricher(Enricher):
    def enrich(self, ev: Any) -> Any:
        raise AssertionError("enriched again")

    def enrich_row(self, *args: Any) -> Any:
        raise AssertionError("enriched again")


class Seen:
    name = "seen"

    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.scores: list[Any] = []

    def process(self, batch: Batch) -> None:
        self.batches.append(batch)
        self.scores.append(list(batch.records.get("scores", [])))


def _raws(values: list[bytes]) -> list[RawEvent]:
    return [RawEvent(v, None, "t", 0, i) for i, v in enumerate(values)]


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every decode of event bytes (pydantic or the fast row decode), on both hops."""
    seen: list[bytes] = []
    real_event, real_row = pipeline.decode_event, pipeline.decode_row

    def counting_event(value: bytes) -> Any:
        seen.append(value)
        return real_event(value)

    def counting_row(value: bytes) -> Any:
        seen.append(value)
        return real_row(value)

    monkeypatch.setattr(pipeline, "decode_event", counting_event)
    monkeypatch.setattr(pipeline, "decode_row", counting_row)
    monkeypatch.setattr(_eventlist, "decode_event", counting_event)
    return seen


def test_events_with_scores_decode_once_and_travel_with_embeddings(decodes: list[bytes]) -> None:
    values = [raw(i, usage={}) for i in range(3)]
    batch = Pipeline(Enricher(), [EmbeddingStage()]).process(_raws(values))
    envelopes = encode_envelopes(batch)
    assert decodes == values  # one decode per event on the events hop, none to send it
    assert [key for key, _ in envelopes] == ["shop|gpt-4o-mini-2024-07-18"] * 3

    seen = Seen()
    drift = DriftStage(DriftMonitor(DriftConfig.build({})), RefusingEmbedder())
    monitored = run_monitors(Pipeline(RefusingEnricher(), [drift, seen]), [value for _, value in envelopes])
    assert decodes == values  # the envelope is not decoded through the event codec again
    (keyed,) = seen.batches
    assert [ev.event_id for ev in keyed.events] == [ev.event_id for ev in batch.events]
    assert [ev.usage for ev in keyed.events] == [ev.usage for ev in batch.events]
    assert keyed.events[0].usage.estimated is True
    assert keyed.enrichments == batch.enrichments
    assert keyed.context.prompt_embeddings is not None
    for i, vector in enumerate(keyed.context.prompt_embeddings):
        assert vector is not None and np.array_equal(vector, np.full(DIM, i, dtype=np.float32))
    assert seen.scores == [batch.records["scores"]]
    assert "scores" not in monitored.records
    assert monitored.rows["events"] == []


def test_fast_path_events_travel_without_being_built(decodes: list[bytes]) -> None:
    """Stages off on the events hop: the event bytes go into the envelope as they came, with
    the token estimates made there; nothing builds a model to send them."""
    values = [raw(i, usage={}) for i in range(3)]
    batch = Pipeline(Enricher()).process(_raws(values))
    envelopes = encode_envelopes(batch)
    assert decodes == values
    items = [decode_envelope(value) for _, value in envelopes]
    rows = batch.rows["events"]
    assert [item.event.usage.input_tokens for item in items] == [row["input_tokens"] for row in rows]
    assert all(item.event.usage.estimated for item in items)
    assert [item.enrichment for item in items] == batch.enrichments
    assert all(item.prompt_embedding is None for item in items)


def test_an_envelope_of_another_version_is_refused_clearly() -> None:
    batch = Pipeline(Enricher()).process(_raws([raw(1)]))
    ((_, value),) = encode_envelopes(batch)
    data = orjson.loads(value)
    data["v"] = ENVELOPE_VERSION + 1
    with pytest.raises(SchemaError, match="version"):
        decode_envelope(orjson.dumps(data))
    seen = Seen()
    monitored = run_monitors(Pipeline(stages=[seen]), [orjson.dumps(data), value])
    assert len(seen.batches[0].events) == 1  # the readable one still runs
    assert monitored.stage_errors == {}
