"""Release comparison (``lightkeeper compare --app A --release X --against Y``).

For two releases of one app, per metric: the value of each release, the difference (X - Y) with a
95 % confidence interval, and whether the difference is significant (the interval excludes 0).

* cost per call, latency p50 and p95: bootstrap (resampling each release's calls, 2000 rounds,
  fixed seed, percentile interval) of the difference of means / quantiles;
* error rate, every detector's flag rate, the share of drift checks that found drift while the
  release was serving: difference of two proportions with a Wald interval (normal approximation;
  with fewer than 5 successes or failures on a side the interval is marked unreliable and never
  significant).

Every metric is "lower is better": ``worse`` is a significant increase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lightkeeper.errors import ConfigError
from lightkeeper.store.client import check_identifier

BOOTSTRAP_ROUNDS = 2000
MAX_CALLS = 50_000
Z95 = 1.959963984540054


@dataclass
class MetricComparison:
    metric: str
    value: float | None
    baseline: float | None
    n: int
    baseline_n: int
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    method: str = ""
    reliable: bool = True

    @property
    def significant(self) -> bool:
        if not self.reliable or self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low > 0 or self.ci_high < 0

    @property
    def worse(self) -> bool:
        return self.significant and (self.diff or 0) > 0

    @property
    def verdict(self) -> str:
        """``worse``, ``better``, ``no significant difference`` or ``too few data``."""
        if self.worse:
            return "worse"
        if self.significant:
            return "better"
        return "no significant difference" if self.reliable else "too few data"

    @property
    def ci_text(self) -> str:
        """The 95 % interval of the difference in the metric's unit, "–" when there is none."""
        if self.ci_low is None or self.ci_high is None:
            return "–"
        return f"[{_fmt(self.metric, self.ci_low)}, {_fmt(self.metric, self.ci_high)}]"

    @property
    def relative(self) -> float | None:
        """(value - baseline) / baseline, None when the baseline is 0 or missing."""
        if self.value is None or not self.baseline:
            return None
        return (self.value - self.baseline) / self.baseline


@dataclass
class ReleaseComparison:
    app: str
    release: str
    against: str
    metrics: list[MetricComparison] = field(default_factory=list)

    def metric(self, name: str) -> MetricComparison:
        return next(m for m in self.metrics if m.metric == name)


def _bootstrap(a: Any, b: Any, stat: Any, seed: int) -> tuple[float, float, float]:
    import numpy as np

    rng = np.random.default_rng(seed)
    diffs = np.empty(BOOTSTRAP_ROUNDS)
    for i in range(BOOTSTRAP_ROUNDS):
        diffs[i] = stat(rng.choice(a, a.size)) - stat(rng.choice(b, b.size))
    low, high = np.quantile(diffs, [0.025, 0.975])
    return float(stat(a) - stat(b)), float(low), float(high)


def compare_samples(name: str, a: Any, b: Any, stat: Any, seed: int = 1) -> MetricComparison:
    """Bootstrap comparison of a statistic over two samples (numpy arrays)."""
    if a.size == 0 or b.size == 0:
        return MetricComparison(
            name,
            float(stat(a)) if a.size else None,
            float(stat(b)) if b.size else None,
            int(a.size),
            int(b.size),
            method="bootstrap",
            reliable=False,
        )
    diff, low, high = _bootstrap(a, b, stat, seed)
    reliable = a.size >= 10 and b.size >= 10
    return MetricComparison(
        name, float(stat(a)), float(stat(b)), int(a.size), int(b.size), diff, low, high, "bootstrap", reliable
    )


def compare_proportions(name: str, k1: int, n1: int, k2: int, n2: int) -> MetricComparison:
    """Difference of two proportions with a 95 % Wald interval."""
    if not n1 or not n2:
        return MetricComparison(
            name,
            k1 / n1 if n1 else None,
            k2 / n2 if n2 else None,
            n1,
            n2,
            method="two-proportion",
            reliable=False,
        )
    p1, p2 = k1 / n1, k2 / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    diff = p1 - p2
    reliable = min(k1, n1 - k1, k2, n2 - k2) >= 5
    return MetricComparison(
        name, p1, p2, n1, n2, diff, diff - Z95 * se, diff + Z95 * se, "two-proportion", reliable
    )


def compare_releases(client: Any, database: str, app: str, release: str, against: str) -> ReleaseComparison:
    """Compare ``release`` with ``against`` for ``app`` from the store."""
    import numpy as np

    db = check_identifier(database)
    result = ReleaseComparison(app, release, against)
    samples: dict[str, dict[str, Any]] = {}
    for rel in (release, against):
        rows = client.query(
            f"SELECT toFloat64(ifNull(cost_usd, 0)), cost_usd IS NOT NULL, duration_ms, is_error, "
            f"start_time FROM {db}.events_dedup WHERE app = {{app:String}} AND release = {{rel:String}} "
            f"ORDER BY start_time DESC LIMIT {MAX_CALLS}",
            parameters={"app": app, "rel": rel},
        ).result_rows
        if not rows:
            raise ConfigError(f"no calls of app {app!r} with release {rel!r} in the store")
        samples[rel] = {
            "cost": np.array([r[0] for r in rows if r[1]], dtype=float),
            "latency": np.array([r[2] for r in rows if r[2] is not None], dtype=float),
            "errors": (sum(int(r[3]) for r in rows), len(rows)),
            "span": (min(r[4] for r in rows), max(r[4] for r in rows)),
            "flags": _flags(client, db, app, rel),
            "drift": _drift(client, db, app, *(min(r[4] for r in rows), max(r[4] for r in rows))),
        }
    a, b = samples[release], samples[against]
    result.metrics.append(compare_samples("cost_per_call_usd", a["cost"], b["cost"], np.mean))
    result.metrics.append(
        compare_samples("latency_p50_ms", a["latency"], b["latency"], lambda x: np.quantile(x, 0.5))
    )
    result.metrics.append(
        compare_samples("latency_p95_ms", a["latency"], b["latency"], lambda x: np.quantile(x, 0.95))
    )
    result.metrics.append(compare_proportions("error_rate", *a["errors"], *b["errors"]))
    for detector in sorted(set(a["flags"]) | set(b["flags"])):
        k1, n1 = a["flags"].get(detector, (0, 0))
        k2, n2 = b["flags"].get(detector, (0, 0))
        result.metrics.append(compare_proportions(f"flag_rate:{detector}", k1, n1, k2, n2))
    result.metrics.append(compare_proportions("drift_rate", *a["drift"], *b["drift"]))
    return result


def _flags(client: Any, db: str, app: str, rel: str) -> dict[str, tuple[int, int]]:
    rows = client.query(
        f"SELECT detector, countIf(flagged = 1), count() FROM {db}.scores_dedup "
        f"WHERE app = {{app:String}} AND score IS NOT NULL AND event_id IN "
        f"(SELECT event_id FROM {db}.events_dedup WHERE app = {{app:String}} AND release = {{rel:String}}) "
        f"GROUP BY detector",
        parameters={"app": app, "rel": rel},
    ).result_rows
    return {str(d): (int(k), int(n)) for d, k, n in rows}


def _ms(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def _drift(client: Any, db: str, app: str, first: datetime, last: datetime) -> tuple[int, int]:
    """(drift checks that found drift, checks) whose current window ended while the release served."""
    row = client.query(
        f"SELECT countIf(drifted = 1), count() FROM {db}.drift_dedup WHERE app = {{app:String}} "
        f"AND current_end >= fromUnixTimestamp64Milli({{first:Int64}}, 'UTC') "
        f"AND current_end <= fromUnixTimestamp64Milli({{last:Int64}}, 'UTC')",
        parameters={"app": app, "first": _ms(first), "last": _ms(last)},
    ).result_rows[0]
    return int(row[0]), int(row[1])


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    if metric.startswith(("flag_rate", "error_rate", "drift_rate")):
        return f"{value:.1%}"
    if metric.startswith("cost"):
        return f"${value:.6f}"
    return f"{value:.1f}"


def format_comparison(cmp: ReleaseComparison) -> str:
    """A plain-text table (the CLI's output)."""
    lines = [
        f"app {cmp.app}: release {cmp.release} against {cmp.against} "
        f"(difference = {cmp.release} - {cmp.against}, 95 % confidence interval)",
        f"{'metric':34} {cmp.release:>12} {cmp.against:>12} {'difference':>12} {'95% CI':>27}  verdict",
    ]
    for m in cmp.metrics:
        ci = m.ci_text
        verdict = (
            f"{m.verdict.upper() if m.worse else m.verdict} (significant)" if m.significant else m.verdict
        )
        lines.append(
            f"{m.metric:34} {_fmt(m.metric, m.value):>12} {_fmt(m.metric, m.baseline):>12} "
            f"{_fmt(m.metric, m.diff):>12} {ci:>27}  {verdict}"
        )
    worse = [m.metric for m in cmp.metrics if m.worse]
    lines.append(
        f"{cmp.release} is significantly worse on: {', '.join(worse)}"
        if worse
        else "no significant regression"
    )
    return "\n".join(lines)


def latest_comparisons(client: Any, database: str, max_apps: int = 5) -> list[ReleaseComparison]:
    """For each app with two or more releases: its newest release (by first call) against the
    one before."""
    db = check_identifier(database)
    rows = client.query(
        f"SELECT app, groupArray(release) FROM (SELECT app, release, min(start_time) AS first "
        f"FROM {db}.events_dedup WHERE release != '' GROUP BY app, release ORDER BY app, first) "
        f"GROUP BY app HAVING length(groupArray(release)) >= 2 ORDER BY app LIMIT {int(max_apps)}"
    ).result_rows
    return [compare_releases(client, db, str(app), str(rels[-1]), str(rels[-2])) for app, rels in rows]
