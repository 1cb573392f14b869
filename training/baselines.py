"""The simple baselines every model is compared with, under the same LOSO folds:
TF-IDF + logistic regression over the text (toxicity, injection) and token overlap between the
response and its context (groundedness)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["tfidf_lr_fit_predict", "token_overlap_unsupported"]

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tfidf_lr_fit_predict(
    train_texts: Sequence[str],
    train_y: np.ndarray,
    train_w: np.ndarray,
    test_texts: Sequence[str],
) -> np.ndarray:
    """Word 1-2-gram TF-IDF (sublinear tf, at most 50k terms) + balanced logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=50_000)
    x_train = vec.fit_transform(train_texts)
    clf = LogisticRegression(C=4.0, max_iter=2000)
    clf.fit(x_train, train_y, sample_weight=train_w)
    return np.asarray(clf.predict_proba(vec.transform(test_texts))[:, 1])


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


def token_overlap_unsupported(response: str, context: Sequence[str]) -> float:
    """1 - the share of the response's tokens that occur in the context (higher = less supported)."""
    toks = _tokens(response)
    if not toks:
        return 0.0
    known = {t for doc in context for t in _tokens(doc)}
    return 1.0 - sum(1 for t in toks if t in known) / len(toks)
