"""Bounded windows of one tracked key: the reference and the current window.

Rows are stored column-wise in fixed-capacity arrays (:class:`Samples`), embeddings quantized
to int8 (normalized vectors × 127: 384 bytes per embedding instead of 1,536, an error of at most
0.004 per component, far below what drift tests resolve). Memory per key is therefore fixed by
the configuration: ``(reference_size + current_size) × (2 × dim + 8 × (n_numeric + 1))`` bytes
plus the categorical values and text snippets (current window: ``snippet_chars``; reference:
``reference_snippet_chars``, 0 keeps none).

* :class:`ReferenceWindow` — ``pinned``: the first ``size`` events, or a reservoir sample
  (algorithm R, with a stateless deterministic hash as random source so a restored window makes
  the same choices) of the events of the baseline period; ``trailing``: a FIFO of the ``size``
  events that left the current window.
* :class:`CurrentWindow` — a FIFO of the last ``size`` events with the check cadence.

Every window serializes to plain arrays + JSON (``to_state`` / ``from_state``); no pickle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

EMB_SCALE = 127.0
_MASK64 = (1 << 64) - 1


def validate_embedding(vec: Any, dim: int) -> tuple[np.ndarray | None, str | None]:
    """``(int8 vector, None)`` for a usable embedding, else ``(None, "missing" | "bad")``.

    Bad: not numeric, wrong shape, NaN/inf, or zero norm. Vectors are re-normalized first.
    """
    if vec is None:
        return None, "missing"
    try:
        arr = np.asarray(vec, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        return None, "bad"
    if arr.shape[0] != dim or not np.all(np.isfinite(arr)):
        return None, "bad"
    norm = float(np.linalg.norm(arr))
    if norm < 1e-6:
        return None, "bad"
    return np.round(np.clip(arr / norm, -1.0, 1.0) * EMB_SCALE).astype(np.int8), None


def dequantize(q: np.ndarray) -> np.ndarray:
    return q.astype(np.float32) / np.float32(EMB_SCALE)


@dataclass(slots=True)
class Row:
    """One event reduced to what drift keeps."""

    t: float
    prompt: np.ndarray | None
    response: np.ndarray | None
    num: np.ndarray
    cat: tuple[str | None, ...]
    prompt_text: str = ""
    response_text: str = ""


class Samples:
    """Fixed-capacity column store; the filled rows are always slots ``0 .. n-1``."""

    def __init__(
        self, capacity: int, dim: int, n_num: int, n_cat: int, keep_text: bool, text_limit: int | None = None
    ) -> None:
        self.capacity = capacity
        self.text_limit = text_limit
        self.dim = dim
        self.n_num = n_num
        self.n_cat = n_cat
        self.keep_text = keep_text
        self.n = 0
        self.times = np.zeros(capacity, dtype=np.float64)
        self.prompt = np.zeros((capacity, dim), dtype=np.int8)
        self.prompt_ok = np.zeros(capacity, dtype=bool)
        self.response = np.zeros((capacity, dim), dtype=np.int8)
        self.response_ok = np.zeros(capacity, dtype=bool)
        self.num = np.full((capacity, n_num), np.nan, dtype=np.float64)
        self.cat: list[tuple[str | None, ...]] = [(None,) * n_cat] * capacity
        self.prompt_text: list[str] = [""] * (capacity if keep_text else 0)
        self.response_text: list[str] = [""] * (capacity if keep_text else 0)

    def put(self, i: int, row: Row) -> None:
        self.times[i] = row.t
        self.prompt_ok[i] = row.prompt is not None
        if row.prompt is not None:
            self.prompt[i] = row.prompt
        self.response_ok[i] = row.response is not None
        if row.response is not None:
            self.response[i] = row.response
        self.num[i] = row.num
        self.cat[i] = row.cat
        if self.keep_text:
            self.prompt_text[i] = row.prompt_text[: self.text_limit]
            self.response_text[i] = row.response_text[: self.text_limit]
        self.n = max(self.n, i + 1)

    def get(self, i: int) -> Row:
        return Row(
            t=float(self.times[i]),
            prompt=self.prompt[i].copy() if self.prompt_ok[i] else None,
            response=self.response[i].copy() if self.response_ok[i] else None,
            num=self.num[i].copy(),
            cat=self.cat[i],
            prompt_text=self.prompt_text[i] if self.keep_text else "",
            response_text=self.response_text[i] if self.keep_text else "",
        )

    def clear(self) -> None:
        self.n = 0
        self.prompt_ok[:] = False
        self.response_ok[:] = False

    def nbytes(self) -> int:
        arrays = (self.times, self.prompt, self.prompt_ok, self.response, self.response_ok, self.num)
        text = sum(len(s) for s in self.prompt_text) + sum(len(s) for s in self.response_text)
        return sum(a.nbytes for a in arrays) + 8 * self.n_cat * self.capacity + text

    def to_state(self, prefix: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        n = self.n
        arrays: dict[str, np.ndarray] = {
            f"{prefix}times": self.times[:n],
            f"{prefix}prompt": self.prompt[:n],
            f"{prefix}prompt_ok": self.prompt_ok[:n],
            f"{prefix}response": self.response[:n],
            f"{prefix}response_ok": self.response_ok[:n],
            f"{prefix}num": self.num[:n],
        }
        meta: dict[str, Any] = {"n": n, "cat": [list(c) for c in self.cat[:n]]}
        if self.keep_text:
            meta["prompt_text"] = self.prompt_text[:n]
            meta["response_text"] = self.response_text[:n]
        return arrays, meta

    def load_state(self, prefix: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        n = int(meta["n"])
        if n > self.capacity:
            raise ValueError(f"{prefix}: {n} rows exceed the capacity {self.capacity}")
        self.clear()
        self.times[:n] = arrays[f"{prefix}times"]
        self.prompt[:n] = arrays[f"{prefix}prompt"]
        self.prompt_ok[:n] = arrays[f"{prefix}prompt_ok"]
        self.response[:n] = arrays[f"{prefix}response"]
        self.response_ok[:n] = arrays[f"{prefix}response_ok"]
        self.num[:n] = arrays[f"{prefix}num"]
        cats = meta["cat"]
        if len(cats) != n or any(len(c) != self.n_cat for c in cats):
            raise ValueError(f"{prefix}: categorical columns do not match the configuration")
        for i, c in enumerate(cats):
            self.cat[i] = tuple(c)
        if self.keep_text:
            self.prompt_text[:n] = [str(s) for s in meta.get("prompt_text", [""] * n)]
            self.response_text[:n] = [str(s) for s in meta.get("response_text", [""] * n)]
        self.n = n


def _uniform_below(seed: int, counter: int, bound: int) -> int:
    """Deterministic pseudo-random integer in ``[0, bound)`` from (seed, counter): splitmix64."""
    z = (seed * 0x9E3779B97F4A7C15 + counter + 0x632BE59BD9B4E019) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    z ^= z >> 31
    return z % bound


class ReferenceWindow:
    """The baseline a current window is compared with (see module docstring)."""

    def __init__(
        self,
        samples: Samples,
        *,
        mode: str,
        seed: int,
        baseline_start: float | None = None,
        baseline_end: float | None = None,
    ) -> None:
        self.samples = samples
        self.mode = mode
        self.seed = seed
        self.baseline_start = baseline_start
        self.baseline_end = baseline_end
        self.seen = 0
        """Events offered (pinned) or pushed (trailing) since the last (re)baseline."""
        self.head = 0
        self.frozen = False
        self.t_start = math.inf
        self.t_end = -math.inf

    @property
    def size(self) -> int:
        return self.samples.n

    @property
    def ready(self) -> bool:
        if self.mode == "pinned":
            return self.frozen and self.samples.n > 0
        return self.samples.n == self.samples.capacity

    def offer(self, row: Row) -> str:
        """Pinned mode: ``"taken"``, ``"before"`` (before the baseline period: dropped) or
        ``"closed"`` (the baseline is complete: the row belongs to the current window)."""
        if self.frozen:
            return "closed"
        if self.baseline_start is not None and self.baseline_end is not None:
            if row.t < self.baseline_start:
                return "before"
            if row.t >= self.baseline_end:
                if self.samples.n > 0:
                    self.frozen = True
                    return "closed"
                # no event in the baseline period: fall back to the first events from now on
                self.baseline_start = self.baseline_end = None
        cap = self.samples.capacity
        self._extend_bounds(row.t)
        if self.samples.n < cap:
            self.samples.put(self.samples.n, row)
        else:
            j = _uniform_below(self.seed, self.seen, self.seen + 1)
            if j < cap:
                self.samples.put(j, row)
        self.seen += 1
        if self.baseline_start is None and self.samples.n == cap:
            self.frozen = True
        return "taken"

    def push_fifo(self, row: Row) -> None:
        """Trailing mode: add the row that just left the current window."""
        self.samples.put(self.head, row)
        self.head = (self.head + 1) % self.samples.capacity
        self.seen += 1
        n = self.samples.n
        times = self.samples.times[:n]
        self.t_start, self.t_end = float(times.min()), float(times.max())

    def reset(self, keep_period: bool = False) -> None:
        """Start a new baseline from the next events."""
        self.samples.clear()
        self.seen = 0
        self.head = 0
        self.frozen = False
        self.t_start, self.t_end = math.inf, -math.inf
        if not keep_period:
            self.baseline_start = self.baseline_end = None

    def _extend_bounds(self, t: float) -> None:
        self.t_start = min(self.t_start, t)
        self.t_end = max(self.t_end, t)

    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = self.samples.to_state("ref_")
        meta.update(
            mode=self.mode,
            seen=self.seen,
            head=self.head,
            frozen=self.frozen,
            t_start=None if math.isinf(self.t_start) else self.t_start,
            t_end=None if math.isinf(self.t_end) else self.t_end,
            baseline_start=self.baseline_start,
            baseline_end=self.baseline_end,
        )
        return arrays, meta

    def load_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        if meta["mode"] != self.mode:
            raise ValueError(f"reference mode changed ({meta['mode']} -> {self.mode})")
        self.samples.load_state("ref_", arrays, meta)
        self.seen = int(meta["seen"])
        self.head = int(meta["head"]) % self.samples.capacity
        self.frozen = bool(meta["frozen"])
        self.t_start = math.inf if meta["t_start"] is None else float(meta["t_start"])
        self.t_end = -math.inf if meta["t_end"] is None else float(meta["t_end"])
        self.baseline_start = meta.get("baseline_start")
        self.baseline_end = meta.get("baseline_end")


class CurrentWindow:
    """FIFO of the most recent events and the check cadence."""

    def __init__(self, samples: Samples) -> None:
        self.samples = samples
        self.head = 0
        self.since_check = 0
        self.last_check_t: float | None = None

    @property
    def full(self) -> bool:
        return self.samples.n == self.samples.capacity

    def push(self, row: Row) -> Row | None:
        """Add a row; returns the evicted oldest row once the window is full."""
        evicted = self.samples.get(self.head) if self.full else None
        self.samples.put(self.head, row)
        self.head = (self.head + 1) % self.samples.capacity
        self.since_check += 1
        return evicted

    def order(self) -> np.ndarray:
        """Slot indices from oldest to newest."""
        n = self.samples.n
        if n < self.samples.capacity:
            return np.arange(n)
        return (np.arange(n) + self.head) % n

    def selection(self, max_age_s: float | None) -> np.ndarray:
        """Slots to check: all filled ones, or those within ``max_age_s`` of the newest."""
        idx = self.order()
        if max_age_s is None or idx.size == 0:
            return idx
        times = self.samples.times[idx]
        return idx[times >= times.max() - max_age_s]

    def due(self, step: int, interval_s: float | None, min_rows: int, now_t: float) -> bool:
        if self.full and self.since_check >= step:
            return True
        if interval_s is None or self.samples.n < min_rows:
            return False
        if self.last_check_t is None:
            self.last_check_t = now_t
            return False
        return now_t - self.last_check_t >= interval_s

    def mark_checked(self, now_t: float) -> None:
        self.since_check = 0
        self.last_check_t = now_t

    def reset(self) -> None:
        self.samples.clear()
        self.head = 0
        self.since_check = 0

    def to_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = self.samples.to_state("cur_")
        meta.update(head=self.head, since_check=self.since_check, last_check_t=self.last_check_t)
        return arrays, meta

    def load_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.samples.load_state("cur_", arrays, meta)
        self.head = int(meta["head"]) % self.samples.capacity
        self.since_check = int(meta["since_check"])
        self.last_check_t = meta.get("last_check_t")
