"""Candidate heads for the text detectors (toxicity, injection) over the frozen MiniLM sentence
embedding, optionally joined with char n-gram TF-IDF. LOSO picks among them
(:mod:`training.loso`); the chosen one is refitted on every source and shipped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CANDIDATES", "FittedHead", "fit_head"]


@dataclass
class FittedHead:
    """A fitted classifier and, for the TF-IDF candidates, its vectorizer."""

    clf: Any
    tfidf: Any = None

    def predict(self, texts: Sequence[str], emb: np.ndarray) -> np.ndarray:
        from lightkeeper.processors.scoring._text_head import text_head_features

        return np.asarray(self.clf.predict_proba(text_head_features(texts, emb, self.tfidf))[:, 1])


def _lr(c: float) -> Callable[[], Any]:
    def make() -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=c, max_iter=3000)

    return make


def _mlp() -> Any:
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(128,), alpha=1e-2, max_iter=60, early_stopping=True, random_state=7
    )


#: name -> (classifier factory, use char n-gram TF-IDF)
CANDIDATES: dict[str, tuple[Callable[[], Any], bool]] = {
    "lr_c0.05": (_lr(0.05), False),
    "lr_c0.3": (_lr(0.3), False),
    "lr_c2": (_lr(2.0), False),
    "mlp128": (_mlp, False),
    "lr_c2+char_tfidf": (_lr(2.0), True),
}


def fit_head(name: str, texts: Sequence[str], emb: np.ndarray, y: np.ndarray, w: np.ndarray) -> FittedHead:
    """Fit candidate ``name`` on ``texts`` / their embeddings ``emb`` with sample weights ``w``."""
    from lightkeeper.processors.scoring._text_head import text_head_features

    make, use_tfidf = CANDIDATES[name]
    tfidf = None
    if use_tfidf:
        from sklearn.feature_extraction.text import TfidfVectorizer

        tfidf = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=3, max_features=30_000
        )
        tfidf.fit(texts)
    clf = make()
    clf.fit(text_head_features(texts, emb, tfidf), y, sample_weight=w)
    return FittedHead(clf, tfidf)
