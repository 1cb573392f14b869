"""What the text detectors (toxicity, injection) share: the head's feature matrix and the
note that a text was longer than the encoder reads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MAX_TOKENS", "is_truncated", "text_head_features"]

MAX_TOKENS = 256
"""Word pieces the encoder reads; the rest of a longer text does not reach the embedding."""
MAX_CHARS = 2000
"""Characters the shared embedder passes to the tokenizer (see processors/embedding.py)."""
_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def is_truncated(text: str) -> bool:
    """True when ``text`` certainly has more than :data:`MAX_TOKENS` word pieces (every word and
    punctuation mark is at least one) or more characters than the embedder passes on; only its
    first part was scored."""
    if len(text) > MAX_CHARS:
        return True
    return any(count > MAX_TOKENS for count, _ in enumerate(_TOKEN.finditer(text), start=1))


def text_head_features(texts: Sequence[str], emb: np.ndarray, tfidf: Any = None) -> Any:
    """The embedding rows, joined (sparse CSR) with char n-gram TF-IDF when ``tfidf`` is given."""
    if tfidf is None:
        return emb
    from scipy import sparse

    return sparse.hstack([sparse.csr_matrix(emb), tfidf.transform(list(texts))], format="csr")
