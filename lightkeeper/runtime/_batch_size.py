"""How many queued events the embedded runtime takes per batch.

A batch is stored (and its events queryable) only once every stage has processed all of it, so
the batch size bounds the latency: 2,000 events through the scoring stage take seconds. The
sizer keeps a moving average of the processing + insert time per event and takes about as many
events as fit in ``target_s`` (at least ``floor``, at most ``batch_max``): large batches when the
stages are cheap, small ones when scoring dominates, so an event waits at most about one batch
in progress plus its own batch.
"""

from __future__ import annotations

__all__ = ["BatchSizer"]


class BatchSizer:
    """Holds the moving average of seconds per event (None until the first batch)."""

    def __init__(self, batch_max: int, target_s: float, *, floor: int = 16, smoothing: float = 0.3) -> None:
        if batch_max < 1 or target_s <= 0 or not 0 < smoothing <= 1:
            raise ValueError("batch_max must be >= 1, target_s > 0 and smoothing in (0, 1]")
        self.batch_max = batch_max
        self.target_s = target_s
        self.floor = min(floor, batch_max)
        self.smoothing = smoothing
        self.per_event_s: float | None = None

    def next_size(self) -> int:
        """Events to take for the next batch."""
        if self.per_event_s is None or self.per_event_s <= 0:
            return self.floor
        return max(self.floor, min(self.batch_max, int(self.target_s / self.per_event_s)))

    def observe(self, events: int, seconds: float) -> None:
        """A batch of ``events`` took ``seconds`` to process and store."""
        if events <= 0 or seconds < 0:
            return
        sample = seconds / events
        prev = self.per_event_s
        self.per_event_s = sample if prev is None else prev + self.smoothing * (sample - prev)
