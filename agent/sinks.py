"""Where the recorder's finished events go: the :class:`EventSink` protocol and
:class:`MemorySink` (tests, debugging). The Kafka sink is :class:`~agent.publisher.KafkaPublisher`."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from lightkeeper.agent.spool import Record


class EventSink(Protocol):
    """Where finished events go. ``submit`` must not block or raise."""

    def submit(self, key: bytes | None, value: bytes) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def ready(self) -> bool: ...


class MemorySink:
    """Keeps records in a list (tests, ``publish_enabled=False`` debugging)."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self._event = asyncio.Event()

    def submit(self, key: bytes | None, value: bytes) -> None:
        self.records.append((key, value))
        self._event.set()

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Record]:
        """Wait until at least ``count`` records arrived; returns them all."""
        deadline = time.monotonic() + timeout_s
        while len(self.records) < count:
            self._event.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(self.records)} of {count} records arrived")
            try:
                await asyncio.wait_for(self._event.wait(), left)
            except TimeoutError:
                continue
        return self.records

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def ready(self) -> bool:
        return True
