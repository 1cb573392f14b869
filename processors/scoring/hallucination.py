"""Groundedness (hallucination) scorer: how likely a response is NOT supported by its context.

Per response sentence, :mod:`lightkeeper.processors.scoring._grounding_features` compares it with the context
sentences (MiniLM similarity from the shared :class:`lightkeeper.processors.embedding.Embedder`, plus lexical,
number, date, entity, negation and antonym consistency); the trained model
(``processors/artifacts/hallucination-v*.joblib``, see
:mod:`training.train_hallucination`) gives each sentence P(unsupported). The event's
score is the maximum over its sentences. No LLM is called.

An item without context (None, empty list, or only blank strings) gets ``score=None`` with
``details={"reason": "no_context"}``: groundedness is never invented.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lightkeeper.processors.scoring._grounding_features import (
    N_FEATURES,
    build_context,
    context_sentences,
    sentence_features,
    usable_question,
)
from lightkeeper.processors.scoring._grounding_text import analyse, split_sentences
from lightkeeper.processors.scoring.base import ScoreInput, ScoreResult

log = logging.getLogger(__name__)

MAX_CONTEXT_SENTENCES = 400
"""Context sentences looked at per item (the first ones); bounds the cost of huge RAG contexts."""
MAX_RESPONSE_SENTENCES = 64
"""Response sentences scored per item (the first ones)."""
MAX_DETAIL_CHARS = 300
"""Sentence text kept in ``details`` (longer ones are cut)."""


@dataclass(slots=True)
class _Plan:
    """One scorable item: its context and response sentences and the question."""

    ctx: list[str]
    sents: list[str]
    question: str | None


class HallucinationScorer:
    """Scores ``ScoreInput.text`` (the response) against ``ScoreInput.context`` (documents), with
    ``ScoreInput.question`` (the user's question / message) when given. Holds the loaded model
    dict and an embedding function (defaults to the shared Embedder's cached ``embed``)."""

    name = "hallucination"

    def __init__(
        self,
        artifact: str | None = None,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        threshold: float | None = None,
    ) -> None:
        from lightkeeper.processors.scoring.registry import load_artifact

        self._model: dict[str, Any] = load_artifact("hallucination", artifact)
        self._clf = self._model["clf"]
        self._cols = np.asarray(self._model.get("columns", list(range(N_FEATURES))), dtype=int)
        self.version: str = str(self._model.get("version", "hallucination-unknown"))
        self.threshold: float = float(
            threshold if threshold is not None else self._model.get("threshold", 0.5)
        )
        self._embed = embed

    def _calibrate(self, p: np.ndarray) -> np.ndarray:
        """Platt scaling fitted on out-of-fold event scores (monotone: the max stays the max)."""
        cal = self._model.get("calibration")
        if not cal:
            return p
        z = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1.0))
        return 1.0 / (1.0 + np.exp(-(float(cal["a"]) * z + float(cal["b"]))))

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        if self._embed is None:
            from lightkeeper.processors.embedding import get_embedder

            self._embed = get_embedder().embed
        return self._embed(texts)

    @staticmethod
    def _plan(item: ScoreInput) -> _Plan | ScoreResult:
        raw = [item.context] if isinstance(item.context, str) else (item.context or [])
        docs = [d for d in raw if isinstance(d, str) and d.strip()]
        if not docs:
            return ScoreResult(None, {"reason": "no_context"}, False)
        text = item.text if isinstance(item.text, str) else ""
        if not text.strip():
            return ScoreResult(None, {"reason": "empty_response"}, False)
        sents = (split_sentences(text) or [text.strip()])[:MAX_RESPONSE_SENTENCES]
        ctx = context_sentences(docs)[:MAX_CONTEXT_SENTENCES]
        q = item.question if isinstance(item.question, str) and item.question.strip() else None
        return _Plan(ctx, sents, q)

    def score_batch(self, items: list[ScoreInput]) -> list[ScoreResult]:
        """One result per item, in order. Items without context get ``score=None``; an item that
        cannot be scored gets ``ScoreResult(None, {"error": ...})`` and the others still score."""
        results: list[ScoreResult | None] = [None] * len(items)
        plans: dict[int, _Plan] = {}
        for i, item in enumerate(items):
            try:
                p = self._plan(item)
            except Exception as exc:  # one bad item must not fail the batch
                p = ScoreResult(None, {"error": f"{type(exc).__name__}: {exc}"}, False)
            if isinstance(p, ScoreResult):
                results[i] = p
            else:
                plans[i] = p
        if plans:
            self._score_plans(plans, results)
        return [r if r is not None else ScoreResult(None, {"error": "not scored"}, False) for r in results]

    def _score_plans(self, plans: dict[int, _Plan], results: list[ScoreResult | None]) -> None:
        texts: dict[str, int] = {}
        for p in plans.values():
            for t in (*p.ctx, *p.sents):
                texts.setdefault(t, len(texts))
        try:
            vecs = self._embed_texts(list(texts))
        except Exception as exc:  # report per item, never raise
            log.warning("hallucination scorer: embedding failed: %s", exc)
            for i in plans:
                results[i] = ScoreResult(None, {"error": f"embedding failed: {type(exc).__name__}"}, False)
            return
        rows: list[np.ndarray] = []
        spans: dict[int, tuple[int, int]] = {}
        for i, p in plans.items():
            try:
                ctx = build_context(p.ctx, vecs[[texts[t] for t in p.ctx]])
                q = usable_question(analyse(p.question), ctx) if p.question else None
                feats = [sentence_features(analyse(s), vecs[texts[s]], ctx, q) for s in p.sents]
            except Exception as exc:
                results[i] = ScoreResult(None, {"error": f"{type(exc).__name__}: {exc}"}, False)
                continue
            spans[i] = (len(rows), len(rows) + len(feats))
            rows.extend(feats)
        if not rows:
            return
        probs = self._calibrate(self._clf.predict_proba(np.vstack(rows)[:, self._cols])[:, 1])
        for i, (a, b) in spans.items():
            results[i] = self._result(plans[i], probs[a:b])

    def _result(self, plan: _Plan, probs: np.ndarray) -> ScoreResult:
        scores = [round(float(p), 4) for p in probs]
        score = max(scores)
        unsupported = [
            {"index": k, "text": s[:MAX_DETAIL_CHARS], "score": sc}
            for k, (s, sc) in enumerate(zip(plan.sents, scores, strict=True))
            if sc >= self.threshold
        ]
        details = {
            "unsupported_sentences": unsupported,
            "sentence_scores": scores,
            "model_version": self.version,
            "context_sentences": len(plan.ctx),
        }
        return ScoreResult(score, details, score >= self.threshold)
