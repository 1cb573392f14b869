"""Toxicity scorer (prompts and responses are scored separately by the pipeline; the model is
the same).

A classifier head over the shared MiniLM sentence embedding (optionally joined with char n-gram
TF-IDF; the artifact says which), trained on six public sources and chosen by leave-one-source-out
AUROC (``training/train_toxicity.py``, docs/detectors.md). ``score`` is the probability that the
text is toxic (hate, harassment, threats, abusive profanity) with every source and class weighted
alike; the threshold comes from the artifact. No hand-written re-scoring rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lightkeeper.processors.embedding import single_thread_blas
from lightkeeper.processors.scoring._text_head import is_truncated, text_head_features
from lightkeeper.processors.scoring.base import ScoreInput, ScoreResult, item_embeddings, split_text_items

__all__ = ["ToxicityScorer"]


class ToxicityScorer:
    """Probability (0-1) that a text is toxic. Holds the loaded artifact (classifier, optional
    TF-IDF vectorizer, threshold). ``details``: label (toxic/clean), threshold, model_version,
    and ``truncated`` when the text is longer than the encoder reads (its start was scored)."""

    name = "toxicity"

    def __init__(self, artifact_path: str | None = None, embedder: Any = None) -> None:
        from lightkeeper.processors.scoring.registry import ArtifactError, load_artifact

        art = load_artifact("toxicity", artifact_path)
        if any(art.get(k) for k in ("cues", "lexicon", "quote_gate", "negation_gate")):
            raise ArtifactError(
                f"{art['path']} needs the re-scoring rules and cue features this release no longer "
                "has; use toxicity-v5 or later"
            )
        self._clf = art["clf"]
        self._tfidf = art.get("tfidf")
        self.threshold = float(art["threshold"])
        self.version = str(art["version"])
        self._embedder = embedder
        self.dim = 384

    def _get_embedder(self) -> Any:
        if self._embedder is None:
            from lightkeeper.processors.embedding import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    def predict(self, texts: list[str], emb: np.ndarray) -> np.ndarray:
        """P(toxic) of each text given its embedding row."""
        with single_thread_blas():
            feats = text_head_features(texts, emb, self._tfidf)
            return np.asarray(self._clf.predict_proba(feats)[:, 1], dtype=np.float64)

    def score_batch(self, items: list[ScoreInput]) -> list[ScoreResult]:
        """One result per item, in order; an item without text gets ``score=None`` and an error."""
        ok, results = split_text_items(items, self.dim)
        if ok:
            sub = [items[i] for i in ok]
            emb = item_embeddings(sub, self.dim, self._get_embedder())
            texts = [it.text for it in sub]
            probs = self.predict(texts, emb)
            for j, i in enumerate(ok):
                p = float(np.clip(probs[j], 0.0, 1.0))
                flagged = p >= self.threshold
                details: dict[str, Any] = {
                    "label": "toxic" if flagged else "clean",
                    "threshold": self.threshold,
                    "model_version": self.version,
                }
                if is_truncated(texts[j]):
                    details["truncated"] = True
                results[i] = ScoreResult(round(p, 6), details, flagged)
        return [r if r is not None else ScoreResult(None, {"error": "not scored"}) for r in results]
