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
    shared :class:`processors.embedding.Embedder` and are reused by every scorer and by drift."""

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
