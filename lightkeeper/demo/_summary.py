"""The demo's summary: every number is computed by SQL over the store, for this run only
(events tagged ``demo_run=<id>``), and printed with example ``lightkeeper sql`` queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass
class DemoSummary:
    """What the demo prints. ``by_app`` / ``by_model``: (name, requests, cost USD or None,
    calls without a price); ``flagged``: detector -> flagged events."""

    run_id: str
    database: str
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    unpriced: int = 0
    by_app: list[tuple[str, int, Decimal | None, int]] = field(default_factory=list)
    by_model: list[tuple[str, int, Decimal | None, int]] = field(default_factory=list)
    top_users: list[tuple[str, int, Decimal | None]] = field(default_factory=list)
    flagged: dict[str, int] = field(default_factory=dict)
    scored_events: int = 0
    drift: list[tuple[str, str, str, float]] = field(default_factory=list)
    anomalies: list[tuple[str, str, str, str]] = field(default_factory=list)
    alerts: list[tuple[str, str, str]] = field(default_factory=list)
    """(rule, severity, labels) of each alert that fired in the run."""
    dead_letters: int = 0
    seconds: float = 0.0


def _rows(client: Any, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in client.query(sql, parameters=params).result_rows]


def collect(client: Any, database: str, run_id: str, started: datetime) -> DemoSummary:
    """Query the store for the run's numbers."""
    db = database
    p = {"run": run_id, "since": started}
    run = f"{db}.events_dedup WHERE tags['demo_run'] = {{run:String}}"
    s = DemoSummary(run_id=run_id, database=db)
    total = _rows(
        client,
        f"SELECT count(), countIf(is_error = 1), sum(ifNull(input_tokens, 0)), "
        f"sum(ifNull(output_tokens, 0)), sum(cost_usd), countIf(cost_usd IS NULL) FROM {run}",
        p,
    )[0]
    s.requests, s.errors, s.input_tokens, s.output_tokens = (int(v or 0) for v in total[:4])
    s.cost_usd = Decimal(total[4] or 0)
    s.unpriced = int(total[5])
    group = (
        "SELECT COL, count(), sumIf(cost_usd, cost_usd IS NOT NULL), countIf(cost_usd IS NULL) "
        f"FROM {run} GROUP BY COL ORDER BY 3 DESC, 1"
    )
    s.by_app = [(str(a), int(n), c, int(u)) for a, n, c, u in _rows(client, group.replace("COL", "app"), p)]
    s.by_model = [
        (str(a), int(n), c, int(u)) for a, n, c, u in _rows(client, group.replace("COL", "model"), p)
    ]
    s.top_users = [
        (str(u), int(n), c)
        for u, n, c in _rows(
            client,
            f"SELECT user_id, count(), sum(cost_usd) FROM {run} GROUP BY user_id ORDER BY 3 DESC LIMIT 3",
            p,
        )
    ]
    scores = _rows(
        client,
        f"SELECT detector, uniqExactIf(event_id, flagged = 1), uniqExact(event_id) "
        f"FROM {db}.scores_dedup WHERE event_id IN (SELECT event_id FROM {run}) "
        f"GROUP BY detector ORDER BY detector",
        p,
    )
    s.flagged = {str(d): int(f) for d, f, _ in scores}
    s.scored_events = max((int(n) for _, _, n in scores), default=0)
    s.drift = [
        (str(a), str(m), str(t), float(sc))
        for a, m, t, sc in _rows(
            client,
            f"SELECT app, model, target, max(score) FROM {db}.drift FINAL WHERE drifted = 1 "
            f"AND detected_at >= {{since:DateTime64(3)}} GROUP BY app, model, target ORDER BY app, target",
            p,
        )
    ]
    s.anomalies = [
        (str(a), str(m), str(u), str(sev))
        for a, m, u, sev in _rows(
            client,
            f"SELECT app, model, metric, max(severity) FROM {db}.anomalies FINAL "
            f"WHERE detected_at >= {{since:DateTime64(3)}} GROUP BY app, model, metric ORDER BY app, metric",
            p,
        )
    ]
    s.alerts = [
        (str(r), str(sev), _labels(lab))
        for r, sev, lab in _rows(
            client,
            f"SELECT rule, any(severity), any(labels) FROM {db}.alerts FINAL "
            f"WHERE started_at >= {{since:DateTime64(3)}} AND state IN ('firing', 'resolved') "
            f"GROUP BY rule, dedup_key ORDER BY rule",
            p,
        )
    ]
    return s


def _labels(labels: Any) -> str:
    if not isinstance(labels, dict):
        return str(labels)
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if v)


def _usd(value: Decimal | None) -> str:
    return "   n/a   " if value is None else f"${value:,.4f}"


def render(s: DemoSummary, *, store_url: str, stages: list[str]) -> str:
    """The printed summary."""
    out: list[str] = []
    add = out.append
    add("")
    add(f"Lightkeeper demo summary  (run {s.run_id}, {s.seconds:.0f} s)")
    add("=" * 64)
    add(f"Requests          {s.requests:>8}   errors {s.errors}   dead letters {s.dead_letters}")
    add(f"Tokens            {s.input_tokens:>8} in / {s.output_tokens} out")
    add(
        f"Cost              {_usd(s.cost_usd):>12}   "
        f"({s.unpriced} calls on models without a price: cost NULL)"
    )
    add("")
    add("Cost by app                    requests        cost")
    for name, n, cost, unknown in s.by_app:
        add(f"  {name:<28} {n:>8} {_usd(cost):>12}" + (f"  (+{unknown} unpriced)" if unknown else ""))
    add("Cost by model                  requests        cost")
    for name, n, cost, unknown in s.by_model:
        add(
            f"  {name:<28} {n:>8} {_usd(None if unknown == n else cost):>12}"
            + ("  (no price)" if unknown else "")
        )
    add("Top users by cost")
    for user, n, cost in s.top_users:
        add(f"  {user or '(none)':<28} {n:>8} {_usd(cost):>12}")
    add("")
    if s.flagged or "scores" in stages:
        add(f"Flagged events (of {s.scored_events} scored)")
        for det, n in s.flagged.items():
            add(f"  {det:<28} {n:>8}")
    else:
        add("Flagged events: scorers not available in this install (stage 'scores' off)")
    add(f"Drift detected: {len(s.drift)}" + ("" if "drift" in stages else "  (drift stage off)"))
    for app, model, target, score in s.drift:
        add(f"  {app} / {model}: {target} (score {score:.3f})")
    add(f"Anomalies: {len(s.anomalies)}" + ("" if "anomalies" in stages else "  (anomaly stage off)"))
    for app, model, metric, sev in s.anomalies[:8]:
        add(f"  {app} / {model or '-'}: {metric} [{sev}]")
    add(f"Alerts fired: {len(s.alerts)}" + ("" if "alerts" in stages else "  (alerting off)"))
    for rule, sev, labels in s.alerts[:8]:
        add(f"  [{sev}] {rule}: {labels}")
    add("")
    add(f"The data stays in the embedded store ({store_url}). Try:")
    db = s.database
    add(f'  lightkeeper sql "SELECT app, count(), sum(cost_usd) FROM {db}.events_dedup GROUP BY app"')
    add(
        f'  lightkeeper sql "SELECT user_id, sum(cost_usd) AS usd FROM {db}.events_dedup '
        f'GROUP BY user_id ORDER BY usd DESC LIMIT 5"'
    )
    add(f'  lightkeeper sql "SELECT detector, countIf(flagged) FROM {db}.scores_dedup GROUP BY detector"')
    add(
        f'  lightkeeper sql "SELECT model, count() FROM {db}.events_dedup '
        f'WHERE cost_unknown_model GROUP BY model"'
    )
    return "\n".join(out)
