"""PII scorer: how likely a text carries personal data, from the rule-based :mod:`lightkeeper.text.pii`.

``score`` is 1.0 when any high-confidence span (checksum-validated, known secret format, strongly
cued) is found, else the highest span confidence (0.0 when none). ``details`` name the types and
the offsets of the spans, never the PII values themselves.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from lightkeeper.processors.scoring.base import ScoreInput, ScoreResult
from lightkeeper.text import pii

VERSION = "pii-rules-1"

#: Placeholders the agent's redaction left (``<EMAIL>``...): PII was there before it was redacted.
_PLACEHOLDER = re.compile("|".join(re.escape(pii.placeholder(t)) for t in sorted(pii.PII_TYPES)))


class PIIScorer:
    """Scores ``ScoreInput.text`` for PII. ``types`` restricts the PII types looked for."""

    name = "pii"
    version = VERSION

    def __init__(self, threshold: float = 0.5, types: Collection[str] | None = None) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self.threshold = threshold
        self.types = frozenset(t.upper() for t in types) if types is not None else None
        if self.types is not None and not self.types <= pii.PII_TYPES:
            raise ValueError(f"unknown PII types {sorted(self.types - pii.PII_TYPES)}")

    def score_one(self, text: str) -> ScoreResult:
        """The verdict for one text."""
        spans = pii.detect(text, self.types)
        redacted = sorted(
            {m.group()[1:-1] for m in _PLACEHOLDER.finditer(text)}
            & (self.types if self.types is not None else pii.PII_TYPES)
        )
        if not spans and not redacted:
            return ScoreResult(0.0, {"types": [], "spans": []}, False)
        top = max((s.score for s in spans), default=0.0)
        score = 1.0 if top >= pii.HIGH_CONFIDENCE or redacted else top
        details: dict[str, object] = {
            "types": sorted({s.type for s in spans} | set(redacted)),
            "spans": [{"type": s.type, "start": s.start, "end": s.end, "score": s.score} for s in spans],
        }
        if redacted:
            details["redacted_types"] = redacted
        return ScoreResult(score, details, score >= self.threshold)

    def score_batch(self, items: list[ScoreInput]) -> list[ScoreResult]:
        """One result per item, in order; a bad item gets ``ScoreResult(None, {"error": ...})``."""
        out: list[ScoreResult] = []
        for item in items:
            try:
                out.append(self.score_one(item.text or ""))
            except (TypeError, ValueError) as exc:
                out.append(ScoreResult(None, {"error": f"{type(exc).__name__}: {exc}"}, False))
        return out
