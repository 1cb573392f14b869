"""Feedback items in the event stream: told apart by their prefix, validated, turned into
``feedback`` rows (invalid ones become dead letters with the reason)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from lightkeeper.processors.messages import DeadLetter, RawEvent
from lightkeeper.schemas.feedback import FEEDBACK_PREFIX, FeedbackRecord, feedback_row

if TYPE_CHECKING:
    from lightkeeper.metric_point import MetricPoint

FEEDBACK_TABLE = "feedback"


def split_feedback(raws: Sequence[RawEvent]) -> tuple[Sequence[RawEvent], list[RawEvent]]:
    """(events, feedback items) of a batch; the input itself when it holds no feedback."""
    if not any(raw.value and raw.value.startswith(FEEDBACK_PREFIX) for raw in raws):
        return raws, []
    events = [raw for raw in raws if not (raw.value and raw.value.startswith(FEEDBACK_PREFIX))]
    return events, [raw for raw in raws if raw.value and raw.value.startswith(FEEDBACK_PREFIX)]


def feedback_rows(
    raws: Sequence[RawEvent],
) -> tuple[list[tuple[RawEvent, dict[str, Any]]], list[DeadLetter]]:
    """(item, ``feedback`` row) of the valid items, and dead letters for the invalid ones."""
    rows: list[tuple[RawEvent, dict[str, Any]]] = []
    dead: list[DeadLetter] = []
    for raw in raws:
        try:
            rows.append((raw, feedback_row(FeedbackRecord.model_validate_json(raw.value))))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<item>'}: {e['msg']}" for e in exc.errors()
            )
            dead.append(DeadLetter.of(raw, f"invalid feedback: {problems}", "decode"))
    return rows, dead


def feedback_points(rows: Sequence[dict[str, Any]]) -> list[MetricPoint]:
    """``negative_feedback_rate`` points (series ``feedback``, label ``app``) per minute the
    feedback was received: the share of negative items, weighted by the number of items."""
    from lightkeeper.metric_point import MetricPoint, floor_minute

    counts: dict[tuple[str, datetime], list[int]] = {}
    for row in rows:
        key = (str(row["app"]), floor_minute(row["received_at"]))
        total_negative = counts.setdefault(key, [0, 0])
        total_negative[0] += 1
        total_negative[1] += int(row["negative"])
    return [
        MetricPoint("negative_feedback_rate", {"app": app}, minute, neg / n, float(n), (), "feedback")
        for (app, minute), (n, neg) in counts.items()
    ]
