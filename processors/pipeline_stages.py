"""Stages that plug into :class:`lightkeeper.processors.pipeline.Pipeline` after enrichment.

Each wraps another team's processor behind the :class:`Stage` protocol and is enabled when its
module imports and loads (``build_stages``): scores (``lightkeeper.processors.scoring.registry``), drift,
anomalies (``lightkeeper.processors._monitor_stages``); the shells add the alert stage
(:func:`lightkeeper.worker.stages.build_stages`). A stage that cannot load is logged and left
out; the worker still stores events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lightkeeper.errors import ConfigError, LightkeeperError
from lightkeeper.processors.pipeline import Batch, Stage
from lightkeeper.schemas.records import Detector, ScoreRecord

log = logging.getLogger(__name__)

#: Stage names in the order they run.
STAGE_NAMES = ("scores", "drift", "anomalies", "alerts")
#: Stages holding state per (app, model[, user]) key: in the faust worker they run on the
#: stream repartitioned by ``app|model``.
KEYED_STAGES = frozenset({"drift", "anomalies", "alerts"})

#: scorer name -> ((detector, which text), ...)
_SCORER_TARGETS: dict[str, tuple[tuple[Detector, str], ...]] = {
    "toxicity": ((Detector.TOXICITY_PROMPT, "prompt"), (Detector.TOXICITY_RESPONSE, "response")),
    "injection": ((Detector.INJECTION, "prompt"), (Detector.INJECTION_CONTEXT, "context")),
    "pii": ((Detector.PII_PROMPT, "prompt"), (Detector.PII_RESPONSE, "response")),
    "hallucination": ((Detector.HALLUCINATION, "grounded"),),
}

#: Scorers that judge the encoder's embedding of the whole text: when the encoder read only its
#: first MAX_TOKENS word pieces, their score says so (``details["truncated"] = True``).
_READS_EMBEDDING = frozenset({"toxicity", "injection"})


def _text_of(ev: Any, which: str) -> str:
    return str(ev.prompt_text() if which == "prompt" else ev.response_text() if which == "response" else "")


def _read_context(ev: Any) -> list[str]:
    """What the model read besides the user's prompt: RAG documents and tool results."""
    docs = [d.text for d in ev.context_documents or () if d.text]
    return docs + [m.content for m in ev.input_messages if m.role == "tool" and m.content]


def _system_prompt(ev: Any) -> list[str]:
    return [m.content for m in ev.input_messages if m.role == "system" and m.content]


class ScoresStage:
    """Runs the quality scorers on every event of the batch; adds ``scores`` rows and records.

    Hallucination is scored only for events that carried context documents (RAG) or tool results
    (the system prompt joins that context); injection also scores that context for planted
    instructions (detector ``injection_context``). Empty texts are not scored. One scorer failing
    leaves the others' scores in place.
    """

    name = "scores"

    def __init__(self, scorers: dict[str, Any], embedder: Any = None) -> None:
        self.scorers = scorers
        self.embedder = embedder

    def _embed_once(self, batch: Batch) -> tuple[list[Any], list[Any]]:
        """Each distinct prompt and response text of the batch embedded once (one model call);
        the vectors go to the scorers (``ScoreInput.embedding``) and to drift (``batch.context``).
        Texts the encoder cut at its token limit are listed in ``batch.context.truncated_texts``."""
        prompts = [ev.prompt_text() for ev in batch.events]
        responses = [ev.response_text() for ev in batch.events]
        if self.embedder is None:
            return [None] * len(prompts), [None] * len(responses)
        distinct = list(dict.fromkeys(t for t in prompts + responses if t))
        by_text: dict[str, Any] = {}
        truncated: set[str] = set()
        if distinct:
            detailed = getattr(self.embedder, "embed_detailed", None)
            if detailed is not None:
                res = detailed(distinct)
                by_text = dict(zip(distinct, res.vectors, strict=True))
                truncated = {t for t, cut in zip(distinct, res.truncated, strict=True) if cut}
            else:
                by_text = dict(zip(distinct, self.embedder.embed(distinct), strict=True))
        p_emb = [by_text.get(t) if t else None for t in prompts]
        r_emb = [by_text.get(t) if t else None for t in responses]
        batch.context.prompt_embeddings = p_emb
        batch.context.response_embeddings = r_emb
        batch.context.truncated_texts = truncated
        return p_emb, r_emb

    def process(self, batch: Batch) -> None:
        from lightkeeper.processors.scoring.base import ScoreInput
        from lightkeeper.schemas.rows import score_row

        records: list[ScoreRecord] = []
        failures: list[str] = []
        try:
            p_emb, r_emb = self._embed_once(batch)
        except Exception as exc:  # scorers embed for themselves then
            log.exception("embedding %d events failed", len(batch.events))
            failures.append(f"embedding: {exc!r}")
            p_emb = r_emb = [None] * len(batch.events)
        truncated: set[str] = batch.context.truncated_texts
        for scorer_name, scorer in self.scorers.items():
            for detector, which in _SCORER_TARGETS.get(scorer_name, ()):
                items: list[Any] = []
                owners: list[int] = []
                for i, ev in enumerate(batch.events):
                    if which == "prompt":
                        text = ev.prompt_text()
                        item = ScoreInput(text=text, embedding=p_emb[i]) if text else None
                    elif which == "response":
                        text = ev.response_text()
                        item = ScoreInput(text=text, embedding=r_emb[i]) if text else None
                    elif which == "context":
                        docs = _read_context(ev)
                        item = ScoreInput(context=docs) if docs else None
                    else:
                        docs = _read_context(ev)
                        docs = docs + _system_prompt(ev) if docs else docs
                        text = ev.response_text()
                        item = (
                            ScoreInput(text=text, context=docs, question=ev.prompt_text())
                            if docs and text
                            else None
                        )
                    if item is not None:
                        items.append(item)
                        owners.append(i)
                if not items:
                    continue
                try:
                    results = scorer.score_batch(items)
                except Exception as exc:
                    log.exception("scorer %s failed on %d items", scorer_name, len(items))
                    failures.append(f"{scorer_name}: {exc!r}")
                    continue
                for i, result in zip(owners, results, strict=True):
                    ev = batch.events[i]
                    if scorer_name in _READS_EMBEDDING and _text_of(ev, which) in truncated:
                        result.details.setdefault("truncated", True)
                    records.append(
                        ScoreRecord(
                            event_id=ev.event_id,
                            detector=detector,
                            score=None if result.score is None else min(max(float(result.score), 0.0), 1.0),
                            flagged=bool(result.flagged),
                            threshold=result.details.get("threshold", getattr(scorer, "threshold", None)),
                            details=result.details,
                            model_version=str(scorer.version),
                            app=ev.app,
                            environment=ev.environment,
                            request_model=ev.request_model,
                            event_time=ev.start_time,
                        )
                    )
        batch.add_rows("scores", [score_row(r) for r in records])
        batch.add_records("scores", records)
        if failures:
            batch.stage_errors[self.name] = "; ".join(failures)


def _scores_stage(settings: Any) -> Stage | None:
    from lightkeeper.processors.scoring.registry import SCORERS, get_scorer

    scorers: dict[str, Any] = {}
    for name in SCORERS:
        try:
            scorers[name] = get_scorer(name)
        except (ConfigError, LightkeeperError, ImportError, OSError) as exc:
            log.warning("scorer %s not available: %s", name, exc)
    if not scorers:
        return None
    embedder: Any = None
    if {"toxicity", "injection"} & set(scorers):
        from lightkeeper.processors.embedding import get_embedder

        embedder = get_embedder()
    return ScoresStage(scorers, embedder)


def _drift_stage(settings: Any) -> Stage | None:
    from lightkeeper.processors._monitor_stages import drift_stage

    return drift_stage(settings)


def _anomaly_stage(settings: Any) -> Stage | None:
    from lightkeeper.processors._monitor_stages import anomaly_stage

    return anomaly_stage(settings)


#: Builds one stage from the worker settings (None: the stage has nothing to do).
StageFactory = Callable[[Any], Stage | None]

_FACTORIES: dict[str, StageFactory] = {
    "scores": _scores_stage,
    "drift": _drift_stage,
    "anomalies": _anomaly_stage,
}


def build_stages(
    settings: Any,
    names: Sequence[str] | None = None,
    *,
    factories: Mapping[str, StageFactory] | None = None,
) -> list[Stage]:
    """The stages to run: ``names`` (or ``settings.stages``; None = every known stage), each
    left out with a warning when its module cannot load. Unknown names are a ConfigError.
    ``factories`` adds the stages built outside this package (the alert stage)."""
    wanted = names if names is not None else getattr(settings, "stages", None)
    if wanted is None:
        wanted = list(STAGE_NAMES)
    available = {**_FACTORIES, **(factories or {})}
    unknown = [n for n in wanted if n not in STAGE_NAMES]
    if unknown:
        raise ConfigError(f"unknown stage(s) {unknown}; known: {', '.join(STAGE_NAMES)}")
    stages: list[Stage] = []
    for name in STAGE_NAMES:
        if name not in wanted:
            continue
        if name not in available:
            log.warning("stage %s not available: nothing builds it in this process", name)
            continue
        try:
            stage = available[name](settings)
        except Exception as exc:
            log.warning("stage %s not available: %s", name, exc)
            continue
        if stage is not None:
            stages.append(stage)
    return stages
