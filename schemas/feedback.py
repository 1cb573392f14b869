"""User feedback on an LLM answer: thumbs up/down or a rating, an optional comment.

Feedback points at what it is about, most precise first: an ``event_id``, a ``trace_id`` with a
``span_id`` (the span of the LLM call), a ``trace_id`` alone, or a ``session_id``. The store
joins it with that event (``feedback_events``); feedback that arrives before its event is kept
and shows ``unmatched = 1`` until the event is stored.

Scores: ``"up"``/``"down"`` (or ``true``/``false``) are thumbs, 1 and 0; a number is a rating
on ``scale`` (default ``[1, 5]``), mapped to ``score`` in [0, 1]. ``negative`` is a thumbs down or
a score below 0.5.

Feedback travels with the events (the agent's buffer, spool and Kafka topic) as a JSON object
whose first key is ``"record": "feedback"``; :data:`FEEDBACK_PREFIX` tells it apart from an event
without parsing it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lightkeeper.ids import uuid7_str

FEEDBACK_PREFIX = b'{"record":"feedback"'
COMMENT_MAX_CHARS = 8000


def _now() -> datetime:
    return datetime.now(UTC)


class FeedbackRecord(BaseModel):
    """One feedback item (validated; the comment is redacted by the agent before it is sent)."""

    model_config = ConfigDict(extra="forbid")

    record: Literal["feedback"] = "feedback"
    feedback_id: str = Field(default_factory=uuid7_str, min_length=1, max_length=128)
    app: str = Field(default="default", min_length=1, max_length=256)
    tenant: str | None = Field(default=None, max_length=256)
    user_id: str | None = Field(default=None, max_length=512)
    session_id: str | None = Field(default=None, max_length=512)
    event_id: str | None = Field(default=None, max_length=128)
    trace_id: str | None = Field(default=None, max_length=128)
    span_id: str | None = Field(default=None, max_length=128)
    score: bool | float | str
    """``"up"``/``"down"``, ``true``/``false``, or a number on ``scale``."""
    scale: tuple[float, float] = (1.0, 5.0)
    comment: str | None = Field(default=None, max_length=COMMENT_MAX_CHARS)
    redacted: bool = False
    redaction_types: list[str] = Field(default_factory=list)
    source: Literal["api", "otlp"] = "api"
    created_at: datetime = Field(default_factory=_now)
    received_at: datetime = Field(default_factory=_now)

    @field_validator("created_at", "received_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("score", mode="before")
    @classmethod
    def _score(cls, value: Any) -> Any:
        if isinstance(value, str):
            low = value.strip().lower()
            if low in ("up", "thumbs_up", "+1", "positive"):
                return True
            if low in ("down", "thumbs_down", "-1", "negative"):
                return False
            raise ValueError('must be "up", "down", true, false or a number on the scale')
        if isinstance(value, bool | int | float):
            return value
        raise ValueError('must be "up", "down", true, false or a number on the scale')

    @model_validator(mode="after")
    def _check(self) -> FeedbackRecord:
        if self.span_id and not self.trace_id:
            raise ValueError("span_id needs its trace_id")
        if not (self.event_id or self.trace_id or self.session_id):
            raise ValueError("feedback needs event_id, trace_id (with span_id) or session_id")
        low, high = self.scale
        if not low < high:
            raise ValueError(f"scale must be [min, max] with min < max, got {list(self.scale)}")
        if not isinstance(self.score, bool):
            value = float(self.score)
            if value != value or not low <= value <= high:
                raise ValueError(f"score {self.score} is outside the scale [{low:g}, {high:g}]")
        return self

    # derived --------------------------------------------------------------------------------
    @property
    def score_kind(self) -> str:
        return "thumbs" if isinstance(self.score, bool) else "rating"

    @property
    def value(self) -> float:
        return float(self.score)

    @property
    def normalized(self) -> float:
        """The score in [0, 1]."""
        if isinstance(self.score, bool):
            return 1.0 if self.score else 0.0
        low, high = self.scale
        return (float(self.score) - low) / (high - low)

    @property
    def negative(self) -> bool:
        return self.normalized < 0.5

    @property
    def target(self) -> tuple[str, str]:
        """(target_kind, target) of the join with ``events``."""
        if self.event_id:
            return "event", self.event_id
        if self.trace_id and self.span_id:
            return "span", f"{self.trace_id}/{self.span_id}"
        if self.trace_id:
            return "trace", self.trace_id
        return "session", self.session_id or ""

    def encode(self) -> bytes:
        """The wire form (starts with :data:`FEEDBACK_PREFIX`)."""
        return self.model_dump_json(exclude_none=True).encode()


def feedback_row(rec: FeedbackRecord) -> dict[str, Any]:
    """One ``feedback`` row."""
    kind, target = rec.target
    low, high = (0.0, 1.0) if isinstance(rec.score, bool) else rec.scale
    return {
        "feedback_id": rec.feedback_id,
        "app": rec.app,
        "tenant": rec.tenant or "",
        "user_id": rec.user_id or "",
        "session_id": rec.session_id or "",
        "event_id": rec.event_id or "",
        "trace_id": rec.trace_id or "",
        "span_id": rec.span_id or "",
        "target_kind": kind,
        "target": target,
        "score_kind": rec.score_kind,
        "value": rec.value,
        "scale_min": low,
        "scale_max": high,
        "score": rec.normalized,
        "negative": int(rec.negative),
        "comment": rec.comment or "",
        "redacted": int(rec.redacted),
        "redaction_types": rec.redaction_types,
        "source": rec.source,
        "created_at": rec.created_at,
        "received_at": rec.received_at,
    }
