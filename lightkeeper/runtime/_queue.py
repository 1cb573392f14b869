"""The in-process queue between the agent and the processors of the embedded runtime.

It implements the agent's ``EventSink`` (``submit`` never blocks or raises). Up to
``max_events`` records wait in memory; beyond that they overflow to an on-disk spool (the
agent's :class:`~agent.spool.Spool`), read back after the memory queue. A taken batch is
acknowledged with :meth:`EventQueue.commit` once stored — the spool cursor only moves then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightkeeper.agent.spool import Spool

log = logging.getLogger(__name__)

Record = tuple[bytes | None, bytes]


@dataclass
class Taken:
    """A batch taken from the queue; ``spool_position`` is set when part came from the spool."""

    records: list[Record] = field(default_factory=list)
    spool_position: Any = None
    from_memory: int = 0


class EventQueue:
    """Bounded memory queue with disk overflow; the agent's sink in the embedded runtime."""

    def __init__(self, max_events: int = 50_000, overflow_dir: Path | None = None) -> None:
        self.max_events = max_events
        self._items: deque[Record] = deque()
        self._spool = Spool(overflow_dir, max_bytes=4 * 1024**3, fsync="never") if overflow_dir else None
        self._wake = asyncio.Event()
        self.submitted = 0
        self.overflowed = 0
        self.dropped = 0
        self._started = False

    # -- the agent's EventSink --------------------------------------------------------------
    def submit(self, key: bytes | None, value: bytes) -> None:
        self.submitted += 1
        if len(self._items) < self.max_events and not self._spool_pending():
            self._items.append((key, value))
        elif self._spool is not None and self._spool.append([(key, value)]) == 1:
            self.overflowed += 1
        else:
            self.dropped += 1
            log.error("embedded queue full (%d events) and no room to spool: event dropped", self.max_events)
        self._wake.set()

    async def start(self) -> None:
        self._started = True

    async def stop(self) -> None:
        self._started = False

    def ready(self) -> bool:
        return True

    # -- the processors' side ---------------------------------------------------------------
    def _spool_pending(self) -> bool:
        return self._spool is not None and self._spool.pending_records > 0

    def __len__(self) -> int:
        return len(self._items) + (self._spool.pending_records if self._spool is not None else 0)

    async def take(self, max_n: int, within: float) -> Taken:
        """Wait up to ``within`` seconds for ``max_n`` records (returns early when full; may be
        empty after the wait). Memory first, then the spool."""
        deadline = time.monotonic() + within
        while len(self) < max_n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except TimeoutError:
                break
        taken = Taken()
        while self._items and len(taken.records) < max_n:
            taken.records.append(self._items.popleft())
        taken.from_memory = len(taken.records)
        if len(taken.records) < max_n and self._spool_pending():
            assert self._spool is not None
            records, position = await asyncio.to_thread(self._spool.read, max_n - len(taken.records))
            taken.records.extend(records)
            taken.spool_position = position
        return taken

    def commit(self, taken: Taken) -> None:
        """The batch is stored: release its spooled part."""
        if taken.spool_position is not None and self._spool is not None:
            self._spool.commit(taken.spool_position)

    def requeue(self, taken: Taken) -> None:
        """Put an unstored batch back at the front (shutdown during a store outage)."""
        self._items.extendleft(reversed(taken.records[: taken.from_memory]))

    def persist_pending(self) -> int:
        """Move what waits in memory to the spool (shutdown while the store is down); returns
        how many records were saved. They are read back by the next run."""
        if self._spool is None or not self._items:
            return 0
        records = list(self._items)
        self._items.clear()
        saved = self._spool.append(records)
        self.dropped += len(records) - saved
        return saved

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
