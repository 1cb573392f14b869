"""The metric point: one minute of one metric for one label set, and the minute arithmetic
shared by the anomaly detector (which produces points) and the alert rules (which read them).

Points are additive: two points for the same (series, metric, labels, minute) combine by
summing ``value`` (for sums) or by weighting ``value`` with ``weight`` (for rates and means), so
late data can be emitted as an extra point instead of rewriting history.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MINUTE = timedelta(minutes=1)


@dataclass(slots=True)
class MetricPoint:
    """One minute of one metric for one label set.

    ``value`` is the minute's value (a count, a sum, a rate or a quantile); ``weight`` is how
    many observations it summarizes (the denominator of a rate); ``samples`` holds raw
    observations for quantile metrics so a rule can compute p90 over a window.
    """

    metric: str
    labels: dict[str, str]
    minute: datetime
    value: float
    weight: float = 1.0
    samples: tuple[float, ...] = ()
    series: str = "model"

    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """Identity of the series this point belongs to (without the minute)."""
        return (self.series, self.metric, tuple(sorted(self.labels.items())))


def floor_minute(ts: datetime) -> datetime:
    """Start of the minute holding ``ts`` (naive datetimes are taken as UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).replace(second=0, microsecond=0)


def quantile(values: Iterable[float], q: float) -> float:
    """Linear-interpolated quantile of ``values`` (``q`` in [0, 1]); NaN when empty."""
    data = sorted(values)
    if not data:
        return math.nan
    pos = (len(data) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)
