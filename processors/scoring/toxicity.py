"""Toxicity scorer (prompts and responses are scored separately by the pipeline; the model is
the same).

A Platt-calibrated classifier over the shared MiniLM sentence embedding (the artifact says which
head shipped: a small MLP or a logistic regression, optionally with char n-gram TF-IDF or lexical
cue features; see the model card and docs/detectors.md). Trained on Davidson tweets + HateCheck +
clean text of other sources (QA, dialogue, ordinary assistant prompts; see
``processors/training/train_toxicity.py``); ``score`` is the probability that the text is toxic
(hate, harassment, threats, abusive profanity), balanced for equal class priors. The threshold
comes from the artifact (chosen for <= 1 % out-of-fold false positives on clean text).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from processors.embedding import single_thread_blas
from processors.scoring.base import ScoreInput, ScoreResult, item_embeddings, split_text_items

__all__ = ["ToxicityScorer", "toxicity_features"]


def toxicity_features(texts: list[str], emb: np.ndarray, tfidf: Any = None, lexicon: bool = False) -> Any:
    """Feature matrix: the embedding, then (if ``lexicon``) the lexical cue features of
    :mod:`processors.scoring._toxicity_lexicon`, then (if a fitted ``tfidf`` is given) char
    n-gram TF-IDF. Dense without TF-IDF, sparse CSR with it."""
    dense = emb
    if lexicon:
        from processors.scoring._toxicity_lexicon import lexicon_features

        dense = np.hstack([emb, lexicon_features(texts)])
    if tfidf is None:
        return dense
    from scipy import sparse

    return sparse.hstack([sparse.csr_matrix(dense), tfidf.transform(texts)], format="csr")


class ToxicityScorer:
    """Probability (0-1) that a text is toxic. Holds the loaded artifact (classifier, optional
    TF-IDF vectorizer, threshold). ``details``: label (toxic/clean), threshold, model_version."""

    name = "toxicity"

    def __init__(self, artifact_path: str | None = None, embedder: Any = None) -> None:
        from processors.scoring.registry import load_artifact

        art = load_artifact("toxicity", artifact_path)
        self._clf = art["clf"]
        self._tfidf = art.get("tfidf")
        self._lexicon = bool(art.get("lexicon", False))
        self.threshold = float(art["threshold"])
        self.version = str(art["version"])
        self._embedder = embedder
        self.dim = 384

    def _get_embedder(self) -> Any:
        if self._embedder is None:
            from processors.embedding import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    def score_batch(self, items: list[ScoreInput]) -> list[ScoreResult]:
        """One result per item, in order; an item without text gets ``score=None`` and an error."""
        ok, results = split_text_items(items, self.dim)
        if ok:
            sub = [items[i] for i in ok]
            emb = item_embeddings(sub, self.dim, self._get_embedder())
            with single_thread_blas():
                feats = toxicity_features([it.text for it in sub], emb, self._tfidf, self._lexicon)
                probs = self._clf.predict_proba(feats)[:, 1]
            for j, i in enumerate(ok):
                p = float(np.clip(probs[j], 0.0, 1.0))
                flagged = p >= self.threshold
                results[i] = ScoreResult(
                    round(p, 6),
                    {
                        "label": "toxic" if flagged else "clean",
                        "threshold": self.threshold,
                        "model_version": self.version,
                    },
                    flagged,
                )
        return [r if r is not None else ScoreResult(None, {"error": "not scored"}) for r in results]
