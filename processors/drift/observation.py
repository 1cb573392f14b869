"""What the drift monitor sees of one event (:class:`DriftObservation`) and how it is built
from an :class:`~schemas.events.LLMCallEvent` plus the embeddings the scorers already computed."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lightkeeper.schemas.events import LLMCallEvent

MetadataValue = float | int | str | bool | None


@dataclass(slots=True)
class DriftObservation:
    """One event as drift sees it.

    ``keys`` are the extra groupings this event belongs to beyond (app, model); ``""`` is the
    (app, model) aggregate itself. Embeddings are the scorers' normalized float32 vectors; a
    missing or malformed one is skipped (and counted) for that target only.
    """

    app: str
    model: str
    event_time: datetime
    prompt_embedding: np.ndarray | None = None
    response_embedding: np.ndarray | None = None
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    prompt: str = ""
    response: str = ""
    keys: tuple[str, ...] = ("",)
    event_id: str = ""


def script_of(text: str, sample: int = 400) -> str:
    """The dominant writing system of ``text`` (a cheap, dependency-free language proxy):
    ``latin``, ``cyrillic``, ``cjk``, ``arabic``, ``greek``, ``hebrew``, ``devanagari``,
    ``hangul``, ``thai``, ``other`` or ``none`` (no letters)."""
    counts: dict[str, int] = {}
    for ch in text[:sample]:
        if not ch.isalpha():
            continue
        try:
            name = unicodedata.name(ch)
        except ValueError:
            continue
        head = name.split(" ", 1)[0]
        if head in ("CJK", "HIRAGANA", "KATAKANA"):
            script = "cjk"
        elif head in ("LATIN", "CYRILLIC", "ARABIC", "GREEK", "HEBREW", "DEVANAGARI", "HANGUL", "THAI"):
            script = head.lower()
        else:
            script = "other"
        counts[script] = counts.get(script, 0) + 1
    if not counts:
        return "none"
    return max(counts.items(), key=lambda kv: kv[1])[0]


def event_metadata(ev: LLMCallEvent, cost_usd: float | None = None) -> dict[str, MetadataValue]:
    """The default metadata features of one event (see ``DriftConfig.numeric_features`` /
    ``categorical_features``). Unknown values are None, never invented."""
    prompt = ev.prompt_text()
    return {
        "input_tokens": ev.usage.input_tokens,
        "output_tokens": ev.usage.output_tokens,
        "duration_ms": ev.duration_ms,
        "cost_usd": cost_usd,
        "prompt_chars": len(prompt) if ev.body_sampled else None,
        "finish_reason": ",".join(sorted(ev.finish_reasons)) or "none",
        "error_type": ev.error_type or "none",
        "tool_use": "yes" if ev.output.tool_calls else "no",
        "script": script_of(prompt) if ev.body_sampled else None,
    }


def group_keys(ev: LLMCallEvent, group_by: Sequence[str]) -> tuple[str, ...]:
    """``("",)`` plus one ``"<dim>=<value>"`` key per configured dimension the event has."""
    keys = [""]
    for dim in group_by:
        value: Any = ev.tags.get(dim[4:]) if dim.startswith("tag:") else getattr(ev, dim, None)
        if value not in (None, ""):
            keys.append(f"{dim}={value}")
    return tuple(keys)


def observation_from_event(
    ev: LLMCallEvent,
    prompt_embedding: np.ndarray | None = None,
    response_embedding: np.ndarray | None = None,
    *,
    cost_usd: float | None = None,
    group_by: Sequence[str] = (),
    snippet_chars: int = 200,
) -> DriftObservation:
    """Build the monitor's input from an event and the embeddings already computed for it."""
    return DriftObservation(
        app=ev.app,
        model=ev.model or "unknown",
        event_time=ev.end_time or ev.start_time,
        prompt_embedding=prompt_embedding,
        response_embedding=response_embedding,
        metadata=event_metadata(ev, cost_usd),
        prompt=ev.prompt_text()[:snippet_chars],
        response=(ev.response_text() or "")[:snippet_chars],
        keys=group_keys(ev, group_by),
        event_id=ev.event_id,
    )
