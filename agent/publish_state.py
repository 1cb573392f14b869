"""Book-keeping of the publisher: batches awaiting Kafka's acknowledgement and rate-limited
loss reports.

* :class:`InFlight` is one batch handed to the producer. ``copied`` says how many of its
  records (a prefix) the publisher already wrote to the spool as a precaution, because the
  acknowledgement took longer than ``spool_unacked_after_ms`` or a broker connection broke.
* :class:`LossLog` logs drops and spool write failures at most once per ``interval_s`` each,
  with the number of events since the last line (the first one at once), so that a full disk
  gives one line every 10 s with the real count instead of a traceback per batch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from lightkeeper.agent.spool import Record


@dataclass
class InFlight:
    """A batch handed to the producer and not acknowledged yet."""

    records: list[Record]
    sent_at: float
    """``time.monotonic()`` when it was handed over."""
    copied: int = 0
    """Records (from the start) already written to the spool as a precaution."""
    copying: int = 0
    """Records after ``copied`` being written to the spool right now."""
    outcome: str = ""
    """"acked" or "failed" once Kafka answered (possibly while a copy was being written)."""


@dataclass
class LossLog:
    """Rate-limited warnings with exact counts (see the module docstring)."""

    logger: logging.Logger
    interval_s: float = 10.0
    policy: str = "drop_newest"
    """The spool's full policy, named in drop lines."""
    _pending: dict[str, int] = field(default_factory=dict)
    _last: dict[str, float] = field(default_factory=dict)
    _errors: dict[str, tuple[int, str]] = field(default_factory=dict)

    def dropped(self, n: int, reason: str, policy: str) -> None:
        self._pending[reason] = self._pending.get(reason, 0) + n
        self.policy = policy
        self.flush(reason)

    def write_failed(self, where: str, exc: BaseException) -> None:
        count, _ = self._errors.get(where, (0, ""))
        self._errors[where] = (count + 1, str(exc))
        self.flush(f"error:{where}")

    def flush(self, only: str | None = None, *, force: bool = False) -> None:
        """Log what is due (everything with ``force``, e.g. at shutdown)."""
        now = time.monotonic()
        keys = [only] if only else [*self._pending, *(f"error:{w}" for w in self._errors)]
        for key in keys:
            if not force and now - self._last.get(key, -1e9) < self.interval_s:
                continue
            if key.startswith("error:"):
                count, message = self._errors.pop(key[6:], (0, ""))
                if count:
                    self._last[key] = now
                    self.logger.warning("spool write failed %d time(s) (%s): %s", count, key[6:], message)
            else:
                n = self._pending.pop(key, 0)
                if n:
                    self._last[key] = now
                    self.logger.warning(
                        "dropped %d event(s): %s (policy %s; see lightkeeper_agent_events_dropped_total)",
                        n,
                        key,
                        self.policy,
                    )
