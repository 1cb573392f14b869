"""How many queued events the embedded runtime takes per batch.

A batch is stored (and its events queryable) only once every stage has processed all of it, so
the batch size bounds the latency: 2,000 events through the scoring stage take seconds. The
sizer keeps moving averages of the processing time per event and of the insert time per batch
(nearly fixed: one insert per table), and takes about as many events as fit in ``target_s`` with
the insert (at least ``floor``, at most ``batch_max``): large batches when the stages are cheap,
small ones when scoring dominates, so an event waits at most about one batch in progress plus
its own batch. Counting the insert per batch, not per event, keeps a slow insert from shrinking
batches to the floor (which would make the insert cost per event even larger).
"""

from __future__ import annotations

__all__ = ["BatchSizer"]


class BatchSizer:
    """Holds the moving averages of processing seconds per event (None until the first batch) and
    of insert seconds per batch."""

    def __init__(self, batch_max: int, target_s: float, *, floor: int = 16, smoothing: float = 0.3) -> None:
        if batch_max < 1 or target_s <= 0 or not 0 < smoothing <= 1:
            raise ValueError("batch_max must be >= 1, target_s > 0 and smoothing in (0, 1]")
        self.batch_max = batch_max
        self.target_s = target_s
        self.floor = min(floor, batch_max)
        self.smoothing = smoothing
        self.per_event_s: float | None = None
        self.per_batch_s = 0.0

    def next_size(self) -> int:
        """Events to take for the next batch."""
        if self.per_event_s is None or self.per_event_s <= 0:
            return self.floor
        budget = self.target_s - min(self.per_batch_s, self.target_s / 2)
        return max(self.floor, min(self.batch_max, int(budget / self.per_event_s)))

    def observe(self, events: int, seconds: float, store_seconds: float = 0.0) -> None:
        """A batch of ``events`` took ``seconds`` to process and ``store_seconds`` to insert."""
        if events <= 0 or seconds < 0 or store_seconds < 0:
            return
        sample = seconds / events
        prev = self.per_event_s
        self.per_event_s = sample if prev is None else prev + self.smoothing * (sample - prev)
        self.per_batch_s += self.smoothing * (store_seconds - self.per_batch_s)
