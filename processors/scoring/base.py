"""The contract every scorer follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(slots=True)
class ScoreResult:
    """One item's verdict. ``score`` is in [0, 1] (higher = more toxic / more likely unsupported
    by the context / more likely an injection / more likely PII present), or None when the
    scorer does not apply (e.g. no context for groundedness)."""

    score: float | None
    details: dict[str, Any] = field(default_factory=dict)
    flagged: bool = False


@dataclass(slots=True)
class ScoreInput:
    """What a scorer may look at. Embeddings, when given, were computed once per event by the
    shared :class:`lightkeeper.processors.embedding.Embedder` and are reused by every scorer and by drift."""

    text: str = ""
    """toxicity / injection / pii: the text to judge; hallucination: the response."""
    context: list[str] | None = None
    """hallucination: the context documents (RAG) the response should be grounded in."""
    question: str | None = None
    embedding: np.ndarray | None = None
    """Embedding of ``text`` (normalized, float32), if already computed."""


@runtime_checkable
class Scorer(Protocol):
    name: str
    version: str
    threshold: float

    def score_batch(self, items: list[ScoreInput]) -> list[ScoreResult]:
        """Score a batch; one result per item, in order. Never raises for one bad item: that
        item gets ``ScoreResult(None, {"error": ...})``."""
        ...


def split_text_items(items: list[ScoreInput], dim: int) -> tuple[list[int], list[ScoreResult | None]]:
    """Indexes of the items a text scorer can score, and a results list where every other item
    already holds its error (empty text, or an embedding of the wrong dimension)."""
    results: list[ScoreResult | None] = [None] * len(items)
    ok: list[int] = []
    for i, it in enumerate(items):
        if not isinstance(it.text, str) or not it.text.strip():
            results[i] = ScoreResult(None, {"error": "empty or missing text"})
        elif it.embedding is not None and np.asarray(it.embedding).size != dim:
            results[i] = ScoreResult(None, {"error": "embedding has the wrong dimension"})
        else:
            ok.append(i)
    return ok, results


def item_embeddings(items: list[ScoreInput], dim: int, embedder: Any) -> np.ndarray:
    """``(len(items), dim)`` float32: the embeddings the items carry, the missing ones computed by
    ``embedder`` (the shared :class:`lightkeeper.processors.embedding.Embedder`) in one call."""
    out = np.empty((len(items), dim), dtype=np.float32)
    missing = [i for i, it in enumerate(items) if it.embedding is None]
    if missing:
        out[missing] = embedder.embed([items[i].text for i in missing])
    for i, it in enumerate(items):
        if it.embedding is not None:
            out[i] = np.asarray(it.embedding, dtype=np.float32).reshape(-1)
    return out
