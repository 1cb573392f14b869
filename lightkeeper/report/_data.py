"""What the report shows, read from the store with parameterized queries.

Time bounds and the bucket size travel as server-side parameters; the only identifiers in the
SQL text are the database (checked by ``check_identifier``) and fixed column names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from lightkeeper.report._feedback import FeedbackData, fetch_feedback
from lightkeeper.store.client import check_identifier
from lightkeeper.store.query import run_query
from lightkeeper.store.releases import latest_comparisons

#: Bucket sizes (seconds) a time chart may use; the smallest giving <= ~60 points is chosen.
BUCKETS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]

#: The group-by columns of the cost breakdowns (never taken from users).
COST_DIMENSIONS = {"app": "app", "model": "model", "user": "user_id"}

#: Window condition on a time column (named twice); the column stays bare so that partition
#: pruning and the primary key apply.
_WINDOW = (
    "%s >= fromUnixTimestamp64Milli({start:Int64}, 'UTC') "
    "AND %s <= fromUnixTimestamp64Milli({end:Int64}, 'UTC')"
)


@dataclass
class Summary:
    """Headline numbers of the window."""

    requests: int = 0
    errors: int = 0
    cost_usd: float = 0.0
    p95_latency_ms: float | None = None
    apps: int = 0
    users: int = 0
    flagged_events: int = 0
    drift_detections: int = 0
    alerts_firing: int = 0
    first: datetime | None = None
    last: datetime | None = None


@dataclass
class ReportData:
    """Everything one report renders: rows are plain dicts, times are aware UTC datetimes."""

    database: str
    start: datetime
    end: datetime
    bucket_s: int
    summary: Summary
    traffic: list[dict[str, Any]] = field(default_factory=list)  # t, requests, errors, cost, p50, p95
    cost_by: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    flag_rates: list[dict[str, Any]] = field(default_factory=list)  # t, detector, rate, scored
    drift: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    flagged_events: list[dict[str, Any]] = field(default_factory=list)
    costly_events: list[dict[str, Any]] = field(default_factory=list)
    feedback: FeedbackData = field(default_factory=FeedbackData)
    releases: list[Any] = field(default_factory=list)  # ReleaseComparison per app


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _num(value: Any) -> float:
    if value is None:
        return 0.0
    number = float(value)
    return number if math.isfinite(number) else 0.0


def choose_bucket(span_s: float, points: int = 60) -> int:
    """The smallest bucket of :data:`BUCKETS_S` that cuts ``span_s`` into at most ``points``."""
    for bucket in BUCKETS_S:
        if span_s / bucket <= points:
            return bucket
    return BUCKETS_S[-1]


class _Reader:
    def __init__(self, client: Any, database: str, start: datetime, end: datetime) -> None:
        self.client = client
        self.db = check_identifier(database)
        self.params: dict[str, Any] = {"start": _ms(start), "end": _ms(end)}

    def rows(self, sql: str, **extra: Any) -> list[dict[str, Any]]:
        result = run_query(self.client, sql.replace("{db}", self.db), {**self.params, **extra})
        return [{k: _utc(v) for k, v in row.items()} for row in result.dicts()]


def fetch(client: Any, database: str, start: datetime, end: datetime) -> ReportData:
    """Read the report's data for events whose start time lies in ``[start, end]``."""
    reader = _Reader(client, database, start, end)
    window = _WINDOW % ("start_time", "start_time")
    head = reader.rows(
        "SELECT count() AS requests, countIf(is_error = 1) AS errors, sum(cost_usd) AS cost, "
        "quantile(0.95)(duration_ms) AS p95, uniqExact(app) AS apps, uniqExact(user_id) AS users, "
        f"min(start_time) AS first, max(start_time) AS last FROM {{db}}.events_dedup WHERE {window}"
    )[0]
    summary = Summary(
        requests=int(head["requests"]),
        errors=int(head["errors"]),
        cost_usd=_num(head["cost"]),
        p95_latency_ms=None if not head["requests"] else _num(head["p95"]),
        apps=int(head["apps"]),
        users=int(head["users"]),
        first=head["first"] if head["requests"] else None,
        last=head["last"] if head["requests"] else None,
    )
    span = (summary.last - summary.first).total_seconds() if summary.first and summary.last else 0.0
    bucket = choose_bucket(span)
    data = ReportData(database, start, end, bucket, summary)
    bucketed = "toStartOfInterval(%s, toIntervalSecond({bucket:UInt32}))"
    data.traffic = [
        {**row, "cost": _num(row["cost"]), "p50": _num(row["q"][0]), "p95": _num(row["q"][1])}
        for row in reader.rows(
            f"SELECT {bucketed % 'start_time'} AS t, count() AS requests, countIf(is_error = 1) AS errors, "
            "sum(cost_usd) AS cost, quantiles(0.5, 0.95)(duration_ms) AS q "
            f"FROM {{db}}.events_dedup WHERE {window} GROUP BY t ORDER BY t",
            bucket=bucket,
        )
    ]
    for label, column in COST_DIMENSIONS.items():
        data.cost_by[label] = [
            (str(row["k"]), _num(row["cost"]))
            for row in reader.rows(
                f"SELECT {column} AS k, sum(cost_usd) AS cost FROM {{db}}.events_dedup WHERE {window} "
                "GROUP BY k HAVING cost > 0 ORDER BY cost DESC, k LIMIT 10"
            )
        ]
    score_window = _WINDOW % ("event_time", "event_time")
    data.flag_rates = reader.rows(
        f"SELECT {bucketed % 'event_time'} AS t, detector, avg(flagged) AS rate, count() AS scored "
        f"FROM {{db}}.scores_dedup WHERE {score_window} AND score IS NOT NULL "
        "GROUP BY t, detector ORDER BY detector, t",
        bucket=bucket,
    )
    data.drift = reader.rows(
        "SELECT detected_at, app, model, target, key, method, score, threshold, p_value, drifted, "
        "current_size, reference_size, top_features FROM {db}.drift_dedup "
        f"WHERE {_WINDOW % ('detected_at', 'detected_at')} ORDER BY detected_at"
    )
    data.alerts = reader.rows(
        "SELECT started_at, updated_at, resolved_at, rule, severity, state, delivery_status, summary, "
        "labels, value, threshold FROM {db}.alerts_latest "
        f"WHERE {_WINDOW % ('updated_at', 'updated_at')} ORDER BY updated_at DESC LIMIT 25"
    )
    flagged = reader.rows(
        "SELECT event_id, arraySort(groupUniqArray(detector)) AS detectors, max(score) AS worst "
        f"FROM {{db}}.scores_dedup WHERE flagged = 1 AND {score_window} "
        "GROUP BY event_id ORDER BY length(detectors) DESC, worst DESC, event_id LIMIT 15"
    )
    summary.flagged_events = int(
        reader.rows(
            f"SELECT uniqExact(event_id) AS n FROM {{db}}.scores_dedup WHERE flagged = 1 AND {score_window}"
        )[0]["n"]
    )
    summary.drift_detections = sum(1 for row in data.drift if row["drifted"])
    summary.alerts_firing = sum(1 for row in data.alerts if row["state"] == "firing")
    data.flagged_events = _with_events(reader, flagged)
    costly = reader.rows(
        f"SELECT event_id FROM {{db}}.events_dedup WHERE {window} AND cost_usd IS NOT NULL "
        "ORDER BY cost_usd DESC, event_id LIMIT 10"
    )
    data.costly_events = _with_events(reader, costly)
    data.feedback = fetch_feedback(reader)
    data.releases = latest_comparisons(client, database)
    return data


def _with_events(reader: _Reader, picked: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``picked`` rows (with ``event_id``) joined to their events, in the same order."""
    if not picked:
        return []
    events = {
        row["event_id"]: row
        for row in reader.rows(
            "SELECT event_id, start_time, app, model, user_id, duration_ms, cost_usd, is_error, "
            "error_type, input_messages, output_text FROM {db}.events_dedup "
            "WHERE event_id IN {ids:Array(String)}",
            ids=[row["event_id"] for row in picked],
        )
    }
    joined = []
    for row in picked:
        event = events.get(row["event_id"])
        if event is None:
            continue
        joined.append(
            {
                **row,
                **event,
                "cost_usd": None if event["cost_usd"] is None else float(event["cost_usd"]),
                "prompt": last_user_message(event["input_messages"]),
            }
        )
    return joined


def last_user_message(input_messages: str) -> str:
    """The content of the last user message of an event's ``input_messages`` JSON ('' if none)."""
    try:
        messages = orjson.loads(input_messages or "[]")
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else ""
    return ""
