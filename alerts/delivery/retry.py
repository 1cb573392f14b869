"""Delivery with retries: exponential backoff with jitter, ``Retry-After`` honored.

:class:`Dispatcher` drains the outbox: every due row is sent through its route's channel;
success acknowledges the row, a transient failure reschedules it (``next_at``), a permanent
failure or too many attempts marks it failed. Clock and sleep are injectable for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lightkeeper.alerts.delivery.base import Channel
from lightkeeper.alerts.notification import Notification
from lightkeeper.alerts.outbox import Outbox, OutboxItem
from lightkeeper.alerts.settings import RetrySettings
from lightkeeper.errors import DeliveryError
from lightkeeper.schemas.records import AlertRecord, AlertState, DeliveryStatus

log = logging.getLogger(__name__)


@dataclass
class RetryPolicy:
    """Delay before attempt ``n + 1`` after ``n`` failures."""

    settings: RetrySettings = field(default_factory=RetrySettings)
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        s = self.settings
        if retry_after is not None:
            # The receiver said when; add up to 10 % so many senders don't return in lockstep.
            return min(retry_after, s.max_retry_after_s) * (1 + 0.1 * self.rng.random())
        base = min(s.max_delay_s, s.base_delay_s * (2 ** max(0, failures - 1)))
        return max(0.0, base * (1 + s.jitter * (2 * self.rng.random() - 1)))

    def give_up(self, attempts: int) -> bool:
        return attempts >= self.settings.max_attempts


HistoryWriter = Callable[[list[AlertRecord]], None]


class Dispatcher:
    """Sends due outbox rows; at most one in flight per row; safe to restart at any point."""

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        *,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        history: HistoryWriter | None = None,
    ) -> None:
        self.outbox = outbox
        self.channels = dict(channels)
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.sleep = sleep
        self.history = history
        self.sent = 0
        self.failed = 0
        self.latencies_s: list[float] = []
        """created_at -> acknowledged, per sent row (for the benchmark's p95)."""

    async def run_once(self) -> int:
        """Attempt every row due now, in order; returns how many attempts were made."""
        items = self.outbox.due(self.clock())
        for item in items:
            await self._attempt(item)
        return len(items)

    async def _attempt(self, item: OutboxItem) -> None:
        channel = self.channels.get(item.route)
        try:
            note = Notification.from_json(item.payload)
        except ValueError as exc:
            self.outbox.mark_failed(item.key, f"corrupt payload: {exc}")
            self.failed += 1
            return
        if channel is None:
            self.outbox.mark_failed(item.key, f"no route named {item.route!r} is configured")
            self.failed += 1
            self._history(note, item, DeliveryStatus.FAILED, f"unknown route {item.route}")
            return
        try:
            await channel.send(note)
        except DeliveryError as exc:
            attempts = item.attempts + 1
            if exc.permanent or self.policy.give_up(attempts):
                self.outbox.mark_failed(item.key, str(exc))
                self.failed += 1
                log.error(
                    "giving up on %s via %s after %d attempt(s): %s", note.key, item.route, attempts, exc
                )
                self._history(note, item, DeliveryStatus.FAILED, str(exc))
            else:
                delay = self.policy.delay(attempts, exc.retry_after)
                self.outbox.mark_retry(item.key, self.clock() + delay, str(exc))
                log.warning(
                    "delivery of %s via %s failed (attempt %d), retry in %.2fs: %s",
                    note.key,
                    item.route,
                    attempts,
                    delay,
                    exc,
                )
            return
        now = self.clock()
        self.outbox.mark_sent(item.key, now)
        self.sent += 1
        self.latencies_s.append(now - item.created_at)
        self._history(note, item, DeliveryStatus.SENT, "")

    def _history(self, note: Notification, item: OutboxItem, status: DeliveryStatus, error: str) -> None:
        if self.history is None or note.kind == "test":
            return
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        records = [
            AlertRecord(
                alert_id=a.alert_id,
                rule=note.rule,
                dedup_key=a.dedup_key,
                state=AlertState(a.state),
                severity=note.severity,
                labels=a.labels,
                value=a.value,
                threshold=note.threshold,
                summary=note.summary,
                route=item.route,
                delivery_status=status,
                attempts=item.attempts + 1,
                last_error=error,
                started_at=a.started_at,
                resolved_at=a.resolved_at,
                updated_at=now,
            )
            for a in note.alerts
        ]
        try:
            self.history(records)
        except Exception as exc:
            log.warning("could not record delivery status: %s", exc)

    async def drain(self, *, max_wait_s: float = 60.0) -> None:
        """Deliver until nothing is pending (sleeping until retries are due), or give up waiting
        after ``max_wait_s`` of cumulative sleep."""
        waited = 0.0
        while True:
            await self.run_once()
            nxt = self.outbox.next_due_at()
            if nxt is None:
                return
            pause = max(0.0, nxt - self.clock())
            if waited + pause > max_wait_s:
                return
            waited += pause
            await self.sleep(pause)

    async def run(self, stop: asyncio.Event, *, poll_s: float = 0.5) -> None:
        """Deliver until ``stop`` is set; wakes every ``poll_s`` or when a retry is due."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # the outbox keeps every row; log and keep going
                log.exception("notification dispatch failed")
            nxt = self.outbox.next_due_at()
            pause = poll_s if nxt is None else min(poll_s, max(0.0, nxt - self.clock()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(pause, 0.01))

    async def aclose(self) -> None:
        for ch in self.channels.values():
            try:
                await ch.aclose()
            except Exception as exc:
                log.debug("closing %s: %s", ch.name, exc)
