"""Robust univariate baselines: EWMA level + EWMA absolute deviation, hour-of-day seasonality.

Each series keeps an additive Holt–Winters-style state in event time:

* ``season[h]``: EWMA, per hour of day, of the value (the daily profile); the seasonal offset
  of hour ``h`` is ``season[h] - mean(season)``, used only once every hour of the day has
  ``season_min_obs`` observations (about a day of history);
* ``level``: EWMA of the value minus the current seasonal offset;
* ``dev``: EWMA of the absolute residual, a robust scale (mean absolute deviation; ×1.253 ≈ σ
  for Gaussian noise).

Updates are Huber-clipped: a residual beyond ``clip`` scales moves the state only as much as
one of ``clip`` scales would, so a spike barely shifts the baseline and a sustained incident
keeps being detected while it lasts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class BaselineConfig:
    """Tuning of the univariate baseline (defaults measured in ``bench/alerting.py``)."""

    alpha: float = 0.05
    """Level smoothing per observation (≈ 20-minute memory at one point per minute)."""
    dev_alpha: float = 0.03
    season_gamma: float = 0.05
    season_min_obs: int = 30
    clip: float = 2.0
    rate_alpha: float = 0.01
    """Decay of the success/trial sums of rate (binomial) series (≈ 100-minute memory)."""
    warmup: int = 30
    """Observations before a series may raise anomalies."""


@dataclass(slots=True)
class Observation:
    """The baseline's view of one new value: what it expected and how unusual the value is."""

    expected: float
    actual: float
    scale: float
    z: float
    warm: bool
    seasonal: bool


@dataclass(slots=True)
class RobustBaseline:
    """State of one series. ``update`` scores a value against the state, then learns it."""

    config: BaselineConfig = field(default_factory=BaselineConfig)
    level: float | None = None
    dev: float = 0.0
    n: int = 0
    season: list[float] = field(default_factory=lambda: [0.0] * 24)
    season_n: list[int] = field(default_factory=lambda: [0] * 24)
    last_minute: datetime | None = None
    season_active: bool = False
    successes: float = 0.0
    trials: float = 0.0

    @property
    def seasonal_ready(self) -> bool:
        return min(self.season_n) >= self.config.season_min_obs

    def offset(self, hour: int) -> float:
        """Seasonal offset of an hour of the day (0 until the profile is ready)."""
        if not self.seasonal_ready:
            return 0.0
        return self.season[hour] - sum(self.season) / 24.0

    def expected_at(self, ts: datetime) -> float:
        if self.level is None:
            return math.nan
        return self.level + self.offset(ts.hour)

    def scale(self, min_scale: float = 0.0) -> float:
        return max(self.dev * 1.253, min_scale, 1e-12)

    @property
    def rate(self) -> float | None:
        """Decayed success rate of a rate series (None before any trial)."""
        return self.successes / self.trials if self.trials > 0 else None

    def update_rate(self, ts: datetime, successes: float, trials: float, *, learn: bool = True) -> None:
        """Fold one minute of a rate series (``successes`` of ``trials``) into decayed sums.
        ``learn=False`` only counts the observation (used for anomalous minutes, so an incident
        does not become the new normal)."""
        self.last_minute = ts
        self.n += 1
        if learn or self.trials == 0:
            keep = 1.0 - self.config.rate_alpha
            self.successes = self.successes * keep + successes
            self.trials = self.trials * keep + trials

    def update(self, ts: datetime, value: float, *, min_scale: float = 0.0) -> Observation:
        """Score ``value`` observed at ``ts`` and fold it into the baseline."""
        cfg = self.config
        self.last_minute = ts
        h = ts.hour
        if self.level is None:
            self.level = value
            self.n = 1
            self.season[h], self.season_n[h] = value, 1
            return Observation(value, value, self.scale(min_scale), 0.0, False, False)
        seasonal = self.seasonal_ready
        if seasonal and not self.season_active:
            # The profile just became usable: re-express the level without this hour's offset.
            self.level -= self.offset(h)
            self.season_active = True
        expected = self.expected_at(ts)
        scale = self.scale(min_scale)
        resid = value - expected
        z = resid / scale
        warm = self.n >= cfg.warmup
        # Learn with a Huber-clipped residual so outliers barely move the state.
        limit = cfg.clip * scale if self.n >= cfg.warmup else math.inf
        clipped = max(-limit, min(limit, resid))
        clean = expected + clipped
        self.level += cfg.alpha * (clean - self.offset(h) - self.level)
        # Until the profile is ready it learns raw values (the first day defines "normal");
        # afterwards only the clipped ones, like the level.
        target = clean if seasonal else value
        if self.season_n[h] == 0:
            self.season[h] = target
        else:
            self.season[h] += max(cfg.season_gamma, 1.0 / (self.season_n[h] + 1)) * (target - self.season[h])
        self.season_n[h] += 1
        # During warm-up learn the scale quickly (plain average), then as an EWMA.
        dev_alpha = max(cfg.dev_alpha, 1.0 / (self.n + 1)) if self.n < cfg.warmup else cfg.dev_alpha
        self.dev += dev_alpha * (abs(clipped) - self.dev)
        self.n += 1
        return Observation(expected, value, scale, z, warm, seasonal)
