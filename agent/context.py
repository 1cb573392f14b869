"""RAG context posted ahead of a call (``POST /v1/context``), keyed by trace id.

An application that cannot put its documents in a header posts
``{"trace_id": ..., "documents": [...]}`` before making the call with the same trace id
(``X-Lightkeeper-Trace-Id`` or ``traceparent``). The next event with that trace id takes the
documents. Entries expire after ``context_ttl_s``; the cache holds at most ``context_cache_size``
traces (oldest evicted first). With no context at all, ``context_documents`` stays ``None``
("unknown"), which the hallucination scorer treats as "no grounding available".
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any


class ContextCache:
    """Bounded TTL map trace_id -> documents."""

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._items: OrderedDict[str, tuple[float, list[dict[str, Any]]]] = OrderedDict()

    def put(self, trace_id: str, documents: list[dict[str, Any]]) -> None:
        self._items.pop(trace_id, None)
        self._items[trace_id] = (time.monotonic() + self._ttl, documents)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def get(self, trace_id: str) -> list[dict[str, Any]] | None:
        """Documents for the trace (kept for further calls of the same trace until expiry)."""
        item = self._items.get(trace_id)
        if item is None:
            return None
        if item[0] < time.monotonic():
            self._items.pop(trace_id, None)  # may race with put() from the loop (recorder thread)
            return None
        return item[1]

    def __len__(self) -> int:
        return len(self._items)


class RecentEvents:
    """Bounded TTL map trace_id -> the last published event of that trace that had no context.

    Lets ``POST /v1/context`` arriving *after* its call still attach the documents: the event is
    published again with the same ``event_id`` and ``metadata.context_attached_late = true``
    (the store keeps one row per ``event_id``). Holds at most ``max_entries`` events.
    """

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def remember(self, trace_id: str, event: Any) -> None:
        if self._max <= 0:
            return
        self._items.pop(trace_id, None)
        self._items[trace_id] = (time.monotonic() + self._ttl, event)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def pop(self, trace_id: str) -> Any | None:
        item = self._items.pop(trace_id, None)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]
