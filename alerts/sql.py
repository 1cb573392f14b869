"""SQL that reproduces a rule's value from the store (shown in notifications, used by the CLI).

The query mirrors the streaming evaluation: an inner query computes per-minute values (the
``MetricPoint`` stream) and the outer query applies the rule's aggregate per group.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from lightkeeper.alerts.rules import Rule
from lightkeeper.store.client import check_identifier

_EVENT_VALUES = {
    "requests": ("count()", "1"),
    "errors": ("countIf(is_error = 1)", "1"),
    "error_rate": ("avg(is_error)", "count()"),
    "cost_usd": ("toFloat64(sum(ifNull(cost_usd, 0)))", "1"),
    "tokens": ("sum(ifNull(input_tokens, 0) + ifNull(output_tokens, 0))", "1"),
    "input_tokens": ("sum(ifNull(input_tokens, 0))", "1"),
    "output_tokens": ("sum(ifNull(output_tokens, 0))", "1"),
    "latency_p95_ms": ("quantile(0.95)(duration_ms)", "countIf(duration_ms IS NOT NULL)"),
}
_RAW = {"latency_p95_ms": "duration_ms", "hallucination_score": "score"}
_QUALITY = {
    "toxicity_rate": "('toxicity_prompt', 'toxicity_response')",
    "hallucination_rate": "('hallucination')",
    "hallucination_score": "('hallucination')",
    "injection_rate": "('injection')",
    "pii_rate": "('pii_prompt', 'pii_response')",
}
_Q = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}


def literal(value: Any) -> str:
    """A ClickHouse string literal."""
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _ts(dt: datetime) -> str:
    return f"toDateTime64({literal(dt.strftime('%Y-%m-%d %H:%M:%S'))}, 3, 'UTC')"


class _Source(NamedTuple):
    table: str
    time_col: str
    cols: dict[str, str]
    """label -> column expression"""
    value: str
    weight: str
    cond: str = ""


def _source(rule: Rule, db: str) -> _Source:
    if rule.series == "drift":
        cols = {k: k for k in ("app", "model", "key", "target")}
        value = "max(score)" if rule.metric == "drift_score" else "max(drifted)"
        return _Source(f"{db}.drift_dedup", "current_end", cols, value, "1")
    if rule.series == "anomaly":
        cols = {k: k for k in ("app", "model", "user_id", "metric", "detector")}
        value = (
            "max(transform(severity, ['info','low','medium','high','critical'], [0,1,2,3,4], 0))"
            if rule.metric == "anomaly_severity"
            else "max(abs(score))"
        )
        return _Source(f"{db}.anomalies_dedup", "window_start", cols, value, "1")
    if rule.series == "feedback":
        return _Source(f"{db}.feedback_dedup", "received_at", {"app": "app"}, "avg(negative)", "count()")
    if rule.metric in _QUALITY:
        cols = {"app": "app", "model": "request_model"}
        where = f"detector IN {_QUALITY[rule.metric]} AND score IS NOT NULL"
        if rule.metric == "hallucination_score":
            return _Source(f"{db}.scores_dedup", "event_time", cols, "avg(score)", "count()", where)
        value = "uniqExactIf(event_id, flagged = 1) / uniqExact(event_id)"
        return _Source(f"{db}.scores_dedup", "event_time", cols, value, "uniqExact(event_id)", where)
    if rule.series == "user":
        cols = {"app": "app", "user_id": "user_id"}
    elif rule.series.startswith("tag:"):
        tag = rule.series[4:]
        cols = {"app": "app", tag: f"tags[{literal(tag)}]"}
    else:
        cols = {"app": "app", "model": "model"}
    value, weight = _EVENT_VALUES[rule.metric]
    return _Source(f"{db}.events_dedup", "start_time", cols, value, weight)


def render_sql(
    rule: Rule, labels: dict[str, str], start: datetime, end: datetime, database: str = "lightkeeper"
) -> str:
    """The query giving ``rule``'s value for the group ``labels`` over ``[start, end)``; without
    group labels it returns every group's value."""
    db = check_identifier(database)
    if rule.series == "release":
        return _release_sql(rule, labels, db)
    table, tcol, cols, value, weight, cond = _source(rule, db)
    extra_where = f" AND {cond}" if cond else ""
    conds = [f"{tcol} >= {_ts(start)}", f"{tcol} < {_ts(end)}"]
    for k, want in rule.where.items():
        if isinstance(want, list):
            conds.append(f"{cols[k]} IN ({', '.join(literal(w) for w in want)})")
        else:
            conds.append(f"{cols[k]} = {literal(want)}")
    conds.extend(f"{cols[k]} = {literal(v)}" for k, v in labels.items() if k in cols)
    where = " AND ".join(conds) + extra_where
    group_cols = [f"{cols[k]} AS `{k}`" for k in rule.group_by]
    outer_group = ", ".join(f"`{k}`" for k in rule.group_by)
    if rule.aggregate in _Q and rule.metric in _RAW:
        sel = ", ".join([*group_cols, f"quantile({_Q[rule.aggregate]})({_RAW[rule.metric]}) AS value"])
        sql = f"SELECT {sel}\nFROM {table}\nWHERE {where}"
        return sql + (f"\nGROUP BY {outer_group}" if outer_group else "")
    agg = {
        "sum": "sum(v)",
        "avg": "sum(v * w) / sum(w)",
        "max": "max(v)",
        "min": "min(v)",
        "last": "argMax(v, minute)",
        "count": "count()",
    }.get(rule.aggregate) or f"quantile({_Q[rule.aggregate]})(v)"
    inner_cols = ", ".join(
        [f"toStartOfMinute({tcol}) AS minute", *group_cols, f"{value} AS v", f"{weight} AS w"]
    )
    inner_group = ", ".join(["minute", *(f"`{k}`" for k in rule.group_by)])
    outer_sel = ", ".join([*(f"`{k}`" for k in rule.group_by), f"{agg} AS value", "sum(w) AS weight"])
    sql = (
        f"SELECT {outer_sel}\nFROM (\n  SELECT {inner_cols}\n  FROM {table}\n  WHERE {where}\n"
        f"  GROUP BY {inner_group}\n)"
    )
    return sql + (f"\nGROUP BY {outer_group}" if outer_group else "")


def _release_sql(rule: Rule, labels: dict[str, str], db: str) -> str:
    """Per-release figures of the apps a release rule watches (``lightkeeper compare`` adds the
    confidence intervals the rule decides on)."""
    conds = ["release != ''"]
    for k, want in rule.where.items():
        values = want if isinstance(want, list) else [want]
        conds.append(f"{k} IN ({', '.join(literal(w) for w in values)})")
    conds.extend(f"{k} = {literal(v)}" for k, v in labels.items() if k == "app")
    return (
        "SELECT app, release, min(start_time) AS first_call, count() AS calls, "
        "avg(toFloat64(cost_usd)) AS cost_per_call_usd, quantile(0.5)(duration_ms) AS latency_p50_ms, "
        "quantile(0.95)(duration_ms) AS latency_p95_ms, avg(is_error) AS error_rate\n"
        f"FROM {db}.events_dedup\nWHERE {' AND '.join(conds)}\n"
        "GROUP BY app, release\nORDER BY app, first_call"
    )
