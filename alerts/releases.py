"""Release regression rules (``series: release``): fire when an app's newest release is worse
than the release before it, on any metric of ``lightkeeper compare`` (or one named metric),
beyond a threshold.

The rule's value is the largest relative worsening ((new - previous) / previous) among the
metrics where the new release is *significantly* worse (the 95 % interval of the difference
lies above 0); a metric whose previous value is 0 counts as infinitely worse. Differences that
are not significant never fire, so a small sample cannot page anyone. ``threshold`` is that
relative worsening (0.1 = 10 % worse), compared with ``op``::

    - name: release-regression
      series: release
      metric: any                 # or cost_per_call_usd, latency_p95_ms, error_rate, drift_rate,
                                  #    latency_p50_ms, flag_rate:<detector>
      op: ">"
      threshold: 0.1
      group_by: [app]
      window: 15m                 # the comparison is re-run at most this often

The comparisons are read from the store (:func:`lightkeeper.store.releases.latest_comparisons`)
by a :class:`ReleaseSource` the alert stage attaches when it has a store client.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from lightkeeper.alerts.rules import Rule

log = logging.getLogger(__name__)


class ReleaseSource:
    """The latest release comparisons, recomputed at most every ``max_age_s`` (wall clock)."""

    def __init__(
        self,
        compute: Callable[[], list[Any]],
        max_age_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.compute = compute
        self.max_age_s = max_age_s
        self.clock = clock
        self._value: list[Any] = []
        self._at: float | None = None

    def __call__(self) -> list[Any]:
        now = self.clock()
        if self._at is None or now - self._at >= self.max_age_s:
            self._at = now
            try:
                self._value = self.compute()
            except Exception:
                log.warning("comparing releases failed; keeping the previous comparison", exc_info=True)
        return self._value


def worsening(rule: Rule, comparison: Any) -> tuple[float, list[tuple[dict[str, str], float]]]:
    """(the rule's value, the worse metrics with their relative worsening) of one comparison."""
    worse: list[tuple[dict[str, str], float]] = []
    for m in comparison.metrics:
        if rule.metric != "any" and m.metric != rule.metric:
            continue
        if not m.worse:
            continue
        rel = m.relative
        worse.append(({"metric": m.metric}, math.inf if rel is None else rel))
    worse.sort(key=lambda t: t[1], reverse=True)
    return (worse[0][1] if worse else 0.0), worse[:3]


def evaluate_release_rule(
    rule: Rule,
    comparisons: list[Any],
    compare: Callable[[float, float], bool],
    evaluation: Callable[..., Any],
) -> list[Any]:
    """One ``evaluation(rule, group, value, weight, breached, top)`` (the evaluator's
    :class:`~lightkeeper.alerts.evaluator.Evaluation`) per app the rule's filters keep."""
    out = []
    for cmp in comparisons:
        labels = {"app": cmp.app}
        if not rule.matches(labels):
            continue
        value, top = worsening(rule, cmp)
        breached = bool(top) and compare(value, rule.threshold)
        group = {k: labels[k] for k in rule.group_by}
        top_labels = [({**labels, **t, "release": cmp.release, "against": cmp.against}, v) for t, v in top]
        out.append(evaluation(rule, group, value, float(len(top)), breached, top_labels if breached else []))
    return out
