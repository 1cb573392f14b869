"""A batch's events, built lazily: the fast decode path keeps each event's original bytes and
builds the pydantic :class:`LLMCallEvent` only when something reads it (a scoring or monitor
stage, the keyed-monitor envelopes). A worker without stages never pays for the models."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

from lightkeeper.schemas.codec import decode_event
from lightkeeper.schemas.events import LLMCallEvent


class _Pending:
    """An event not built yet: its JSON bytes and the usage the enrichment filled in."""

    __slots__ = ("usage", "value")

    def __init__(self, value: bytes, usage: dict[str, Any]) -> None:
        self.value = value
        self.usage = usage

    def build(self) -> LLMCallEvent:
        ev = decode_event(self.value)
        usage = self.usage
        # Token estimates made on the fast path (the model must match the stored row).
        ev.usage.input_tokens = usage["input_tokens"]
        ev.usage.output_tokens = usage["output_tokens"]
        ev.usage.estimated = usage["estimated"]
        return ev


class EventList(Sequence[LLMCallEvent]):
    """A read-only sequence of events, some held as pending bytes until first read."""

    __slots__ = ("_items",)

    def __init__(self, items: list[LLMCallEvent | _Pending] | None = None) -> None:
        self._items: list[LLMCallEvent | _Pending] = items if items is not None else []

    def append(self, ev: LLMCallEvent) -> None:
        self._items.append(ev)

    def append_fast(self, value: bytes, usage: dict[str, Any]) -> None:
        """Add an event decoded by the fast path (built from ``value`` when read)."""
        self._items.append(_Pending(value, usage))

    def wire(self, index: int) -> tuple[bytes, dict[str, Any] | None]:
        """The JSON of one event without building it when it is still pending: ``(its bytes,
        the usage the enrichment filled in)``; a built event gives ``(its JSON, None)``."""
        item = self._items[index]
        if isinstance(item, _Pending):
            return item.value, item.usage
        return item.model_dump_json().encode(), None

    def subset(self, indexes: Sequence[int]) -> EventList:
        return EventList([self._items[i] for i in indexes])

    def _get(self, i: int) -> LLMCallEvent:
        item = self._items[i]
        if isinstance(item, _Pending):
            item = self._items[i] = item.build()
        return item

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> LLMCallEvent: ...

    @overload
    def __getitem__(self, index: slice) -> list[LLMCallEvent]: ...

    def __getitem__(self, index: int | slice) -> LLMCallEvent | list[LLMCallEvent]:
        if isinstance(index, slice):
            return [self._get(i) for i in range(*index.indices(len(self._items)))]
        return self._get(index if index >= 0 else index + len(self._items))

    def __iter__(self) -> Iterator[LLMCallEvent]:
        for i in range(len(self._items)):
            yield self._get(i)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventList | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"EventList({len(self._items)} events)"
