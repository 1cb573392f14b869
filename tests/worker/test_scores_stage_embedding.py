"""The scores stage embeds each event's texts once for every scorer and for drift, and marks the
scores of texts the encoder read only the beginning of (``details["truncated"]``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lightkeeper.processors.embedding import get_embedder
from lightkeeper.processors.enrich import Enricher
from lightkeeper.processors.pipeline import Pipeline, RawEvent
from lightkeeper.processors.pipeline_stages import build_stages
from lightkeeper.processors.settings import WorkerSettings
from lightkeeper.schemas.records import Detector
from tests.worker.helpers import raw

LONG = "please summarise this report for me " * 80


def test_one_embedding_call_shared_by_scorers_and_drift_and_truncation_marked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = get_embedder()
    embedder.clear_cache()
    calls: list[list[str]] = []
    run_model = embedder.encode_detailed_uncached

    def counting(texts: list[str]) -> Any:
        calls.append(list(texts))
        return run_model(texts)

    monkeypatch.setattr(embedder, "encode_detailed_uncached", counting)
    settings = WorkerSettings(data_dir=tmp_path)
    stages = build_stages(settings, ["scores", "drift"])
    assert [s.name for s in stages] == ["scores", "drift"]
    values = [raw(0, input_messages=[{"role": "user", "content": LONG}])]
    values += [raw(i) for i in range(1, 6)]
    batch = Pipeline(Enricher(settings.pricing_table()), stages).process(
        [RawEvent(v, None, "t", 0, i) for i, v in enumerate(values)]
    )
    assert batch.dead == [] and not batch.stage_errors
    # One model call for the whole batch (6 prompts + 6 responses, all distinct); drift reuses it.
    assert len(calls) == 1 and len(calls[0]) == 12, [len(c) for c in calls]
    assert len(batch.context.prompt_embeddings) == 6
    long_id = "00000000-0000-7000-8000-000000000000"
    by_detector: dict[tuple[str, Detector], dict[str, Any]] = {
        (r.event_id, r.detector): r.details for r in batch.records["scores"]
    }
    for detector in (Detector.TOXICITY_PROMPT, Detector.INJECTION):
        assert by_detector[(long_id, detector)].get("truncated") is True
        assert "truncated" not in by_detector[("00000000-0000-7000-8000-000000000001", detector)]
    # PII reads the whole text: no truncation mark.
    assert "truncated" not in by_detector[(long_id, Detector.PII_PROMPT)]
