"""Toxicity scorer (prompts and responses are scored separately by the pipeline; the model is
the same).

A Platt-calibrated classifier over the shared MiniLM sentence embedding (the artifact says which
head shipped: a small MLP or a logistic regression, optionally with char n-gram TF-IDF, lexical
cue features or the counter-speech cues of :mod:`._toxicity_quotes`; see the model card and
docs/detectors.md). Trained on Davidson tweets + HateCheck + hand-written examples + clean text
of other sources (QA, dialogue, ordinary assistant prompts; see
``training/train_toxicity*.py``); ``score`` is the probability that the text is toxic
(hate, harassment, threats, abusive profanity), balanced for equal class priors. The threshold
comes from the artifact (chosen for <= 1 % out-of-fold false positives on clean text).

toxicity-v3 artifacts set ``quote_gate``: a text with a double-quoted span whose score is at or
above the gate is scored again with the quotes replaced by "that" (one extra embedding), and
keeps the lower score, so quoting abuse to report or condemn it is not flagged as abuse.
toxicity-v4 artifacts also set ``negation_gate``: a short negated-negative statement ("X are not
greedy.", "I would never hurt them.") still at or above it is scored again in its affirmed form
(one extra embedding) and keeps ``min(score, 1 - affirmed)`` (see :mod:`._toxicity_negation`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from lightkeeper.processors.embedding import single_thread_blas
from lightkeeper.processors.scoring._toxicity_negation import combine_negation_scores, denegate
from lightkeeper.processors.scoring._toxicity_quotes import combine_quote_scores, cue_features, quote_frame
from lightkeeper.processors.scoring.base import ScoreInput, ScoreResult, item_embeddings, split_text_items

__all__ = ["ToxicityScorer", "toxicity_features"]

log = logging.getLogger(__name__)


def toxicity_features(
    texts: list[str],
    emb: np.ndarray,
    tfidf: Any = None,
    lexicon: bool = False,
    cues: tuple[str, ...] = (),
) -> Any:
    """Feature matrix: the embedding, then (if ``lexicon``) the lexical cue features of
    :mod:`lightkeeper.processors.scoring._toxicity_lexicon`, else the named ``cues`` of it, then (if a
    fitted ``tfidf`` is given) char n-gram TF-IDF. Dense without TF-IDF, sparse CSR with it."""
    dense = emb
    if lexicon:
        from lightkeeper.processors.scoring._toxicity_lexicon import lexicon_features

        dense = np.hstack([emb, lexicon_features(texts)])
    elif cues:
        dense = np.hstack([emb, cue_features(texts, cues)])
    if tfidf is None:
        return dense
    from scipy import sparse

    return sparse.hstack([sparse.csr_matrix(dense), tfidf.transform(texts)], format="csr")


class ToxicityScorer:
    """Probability (0-1) that a text is toxic. Holds the loaded artifact (classifier, optional
    TF-IDF vectorizer, cue names, threshold, quote and negation gates). ``details``: label
    (toxic/clean), threshold, model_version; for a text re-scored without its quotes
    ``full_text_score`` and ``quote_frame_score``; for a negated statement re-scored in its
    affirmed form ``full_text_score`` and ``affirmed_score``."""

    name = "toxicity"

    def __init__(self, artifact_path: str | None = None, embedder: Any = None) -> None:
        from lightkeeper.processors.scoring.registry import load_artifact

        art = load_artifact("toxicity", artifact_path)
        self._clf = art["clf"]
        self._tfidf = art.get("tfidf")
        self._lexicon = bool(art.get("lexicon", False))
        self._cues: tuple[str, ...] = tuple(art.get("cues") or ())
        gate = art.get("quote_gate")
        self.quote_gate: float | None = None if gate is None else float(gate)
        neg_gate = art.get("negation_gate")
        self.negation_gate: float | None = None if neg_gate is None else float(neg_gate)
        self.threshold = float(art["threshold"])
        self.version = str(art["version"])
        self._embedder = embedder
        self.dim = 384

    def _get_embedder(self) -> Any:
        if self._embedder is None:
            from lightkeeper.processors.embedding import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    def score_batch(self, items: list[ScoreInput]) -> list[ScoreResult]:
        """One result per item, in order; an item without text gets ``score=None`` and an error."""
        ok, results = split_text_items(items, self.dim)
        if ok:
            sub = [items[i] for i in ok]
            emb = item_embeddings(sub, self.dim, self._get_embedder())
            texts = [it.text for it in sub]
            probs = self._predict(texts, emb)
            extra = self._quote_rescore(texts, probs)
            for j, d in self._negation_rescore(texts, probs).items():
                for key, value in d.items():  # a quote-framed text keeps its first full-text score
                    extra.setdefault(j, {}).setdefault(key, value)
            for j, i in enumerate(ok):
                p = float(np.clip(probs[j], 0.0, 1.0))
                flagged = p >= self.threshold
                details: dict[str, Any] = {
                    "label": "toxic" if flagged else "clean",
                    "threshold": self.threshold,
                    "model_version": self.version,
                }
                details.update(extra.get(j, {}))
                results[i] = ScoreResult(round(p, 6), details, flagged)
        return [r if r is not None else ScoreResult(None, {"error": "not scored"}) for r in results]

    def _predict(self, texts: list[str], emb: np.ndarray) -> np.ndarray:
        with single_thread_blas():
            feats = toxicity_features(texts, emb, self._tfidf, self._lexicon, self._cues)
            return np.asarray(self._clf.predict_proba(feats)[:, 1], dtype=np.float64)

    def _quote_rescore(self, texts: list[str], probs: np.ndarray) -> dict[int, dict[str, float]]:
        """Lower ``probs`` in place for quoting texts at or above the gate whose frame scores
        lower; returns the per-position details of the re-scored texts."""
        return self._rescore(
            texts,
            probs,
            self.quote_gate,
            quote_frame,
            lambda full, frame: float(combine_quote_scores(np.asarray([full]), np.asarray([frame]))[0]),
            "quote_frame_score",
        )

    def _negation_rescore(self, texts: list[str], probs: np.ndarray) -> dict[int, dict[str, float]]:
        """Lower ``probs`` in place for negated-negative statements at or above the gate whose
        affirmed form scores high; returns the per-position details of the re-scored texts."""
        return self._rescore(
            texts, probs, self.negation_gate, denegate, combine_negation_scores, "affirmed_score"
        )

    def _rescore(
        self,
        texts: list[str],
        probs: np.ndarray,
        gate: float | None,
        alternative: Callable[[str], str | None],
        combine: Callable[[float, float], float],
        detail: str,
    ) -> dict[int, dict[str, float]]:
        """Score the ``alternative`` form of each text at or above ``gate`` that has one (one
        embedding call for all), set ``probs[j] = combine(full, alternative)`` in place, and
        return ``{position: {"full_text_score", detail}}``. A refinement: if it fails, the
        scores stay as they are."""
        if gate is None:
            return {}
        alt: dict[int, str] = {}
        for j, t in enumerate(texts):
            if probs[j] >= gate and (a := alternative(t)) is not None:
                alt[j] = a
        if not alt:
            return {}
        a_texts = list(alt.values())
        try:
            a_probs = self._predict(a_texts, self._get_embedder().embed(a_texts))
        except Exception:
            log.warning("toxicity: %s re-scoring failed, keeping the scores", detail, exc_info=True)
            return {}
        out: dict[int, dict[str, float]] = {}
        for k, j in enumerate(alt):
            full = float(probs[j])
            probs[j] = combine(full, float(a_probs[k]))
            out[j] = {"full_text_score": round(full, 6), detail: round(float(a_probs[k]), 6)}
        return out
