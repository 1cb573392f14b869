"""Groundedness (hallucination) scorer: how likely a response is NOT supported by its context.

Per response sentence, :mod:`lightkeeper.processors.scoring._grounding_features` compares it with the context
sentences (MiniLM similarity from the shared :class:`lightkeeper.processors.embedding.Embedder`, plus lexical,
number, date, entity, negation and antonym consistency); the trained model
(``processors/artifacts/hallucination-v*.joblib``, trained and chosen by leave-one-source-out
AUROC in ``training/train_hallucination.py``) gives each sentence P(unsupported). The event's
score is the maximum over its sentences (artifact ``aggregate: max``) or the model applied to
[min, max, mean] of the sentence features (``aggregate: pooled``, see :func:`pool_features`).
``details`` name the unsupported sentences; with ``explain`` set, every sentence with its score
and the most similar context sentence. No LLM is called.

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

__all__ = ["HallucinationScorer", "pool_features"]

log = logging.getLogger(__name__)

MAX_CONTEXT_SENTENCES = 400
"""Context sentences looked at per item (the first ones); bounds the cost of huge RAG contexts."""
MAX_RESPONSE_SENTENCES = 64
"""Response sentences scored per item (the first ones)."""
MAX_DETAIL_CHARS = 300
"""Sentence text kept in ``details`` (longer ones are cut)."""


def pool_features(sentence_feats: np.ndarray) -> np.ndarray:
    """One response's [min, max, mean] of its sentence feature rows (``aggregate: pooled``)."""
    f = np.asarray(sentence_feats, dtype=np.float64).reshape(-1, N_FEATURES)
    return np.concatenate([f.min(axis=0), f.max(axis=0), f.mean(axis=0)])


@dataclass(slots=True)
class _Plan:
    """One scorable item: its context and response sentences, the question, and whether
    sentences beyond the scored ones were left out."""

    ctx: list[str]
    sents: list[str]
    question: str | None
    truncated: bool = False


class HallucinationScorer:
    """Scores ``ScoreInput.text`` (the response) against ``ScoreInput.context`` (documents), with
    ``ScoreInput.question`` (the user's question / message) when given. Holds the loaded model
    dict and an embedding function (defaults to the shared Embedder's cached ``embed``)."""

    name = "hallucination"

    def __init__(
        self,
        artifact_path: str | None = None,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        threshold: float | None = None,
    ) -> None:
        from lightkeeper.processors.scoring.registry import load_artifact

        self._model: dict[str, Any] = load_artifact("hallucination", artifact_path)
        self._clf = self._model["clf"]
        self._cols = np.asarray(self._model.get("columns", list(range(N_FEATURES))), dtype=int)
        self.version: str = str(self._model.get("version", "hallucination-unknown"))
        self.threshold: float = float(
            threshold if threshold is not None else self._model.get("threshold", 0.5)
        )
        self._embed = embed
        self.aggregate: str = str(self._model.get("aggregate", "max"))
        self.explain = False
        """When True, ``details["sentences"]`` lists every sentence with its score and evidence."""

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
        all_sents = split_sentences(text) or [text.strip()]
        all_ctx = context_sentences(docs)
        q = item.question if isinstance(item.question, str) and item.question.strip() else None
        truncated = len(all_sents) > MAX_RESPONSE_SENTENCES or len(all_ctx) > MAX_CONTEXT_SENTENCES
        return _Plan(all_ctx[:MAX_CONTEXT_SENTENCES], all_sents[:MAX_RESPONSE_SENTENCES], q, truncated)

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
        evidence: dict[int, list[str]] = {}
        for i, p in plans.items():
            try:
                ctx = build_context(p.ctx, vecs[[texts[t] for t in p.ctx]])
                q = usable_question(analyse(p.question), ctx) if p.question else None
                feats = [sentence_features(analyse(s), vecs[texts[s]], ctx, q) for s in p.sents]
                if self.explain:
                    evidence[i] = [p.ctx[int(np.argmax(ctx.emb @ vecs[texts[s]]))] for s in p.sents]
            except Exception as exc:
                results[i] = ScoreResult(None, {"error": f"{type(exc).__name__}: {exc}"}, False)
                continue
            spans[i] = (len(rows), len(rows) + len(feats))
            rows.extend(feats)
        if not rows:
            return
        matrix = np.vstack(rows)
        if self.aggregate == "pooled":
            sentence_x = np.vstack([pool_features(r) for r in matrix])
            response_x = np.vstack([pool_features(matrix[a:b]) for a, b in spans.values()])
            probs = self._clf.predict_proba(sentence_x)[:, 1]
            overall = dict(zip(spans, self._clf.predict_proba(response_x)[:, 1].tolist(), strict=True))
        else:
            probs = self._calibrate(self._clf.predict_proba(matrix[:, self._cols])[:, 1])
            overall = {i: float(np.max(probs[a:b])) for i, (a, b) in spans.items()}
        for i, (a, b) in spans.items():
            results[i] = self._result(plans[i], probs[a:b], overall[i], evidence.get(i))

    def _result(
        self, plan: _Plan, probs: np.ndarray, overall: float, evidence: list[str] | None
    ) -> ScoreResult:
        scores = [round(float(p), 4) for p in probs]
        score = round(float(overall), 4)
        unsupported = [
            {"index": k, "text": s[:MAX_DETAIL_CHARS], "score": sc}
            for k, (s, sc) in enumerate(zip(plan.sents, scores, strict=True))
            if sc >= self.threshold
        ]
        if score >= self.threshold and not unsupported:  # pooled: name the least supported one
            k = int(np.argmax(scores))
            unsupported = [{"index": k, "text": plan.sents[k][:MAX_DETAIL_CHARS], "score": scores[k]}]
        details: dict[str, Any] = {
            "unsupported_sentences": unsupported,
            "sentence_scores": scores,
            "model_version": self.version,
            "context_sentences": len(plan.ctx),
        }
        if plan.truncated:
            details["truncated"] = True
        if evidence is not None:
            details["sentences"] = [
                {
                    "index": k,
                    "text": s[:MAX_DETAIL_CHARS],
                    "score": sc,
                    "supported": sc < self.threshold,
                    "closest_context": ev[:MAX_DETAIL_CHARS],
                }
                for k, (s, sc, ev) in enumerate(zip(plan.sents, scores, evidence, strict=True))
            ]
        return ScoreResult(score, details, score >= self.threshold)
