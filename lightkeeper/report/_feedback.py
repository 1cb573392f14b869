"""The report's feedback panel: how users rated the answers, and how their ratings relate to
what the detectors flagged (is a flagged answer more often rated down?)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

_RECEIVED = (
    "received_at >= fromUnixTimestamp64Milli({start:Int64}, 'UTC') "
    "AND received_at <= fromUnixTimestamp64Milli({end:Int64}, 'UTC')"
)


@dataclass
class FeedbackData:
    items: int = 0
    negative: int = 0
    unmatched: int = 0
    by_app: list[dict[str, Any]] = field(default_factory=list)  # app, items, negative_rate
    by_detector: list[dict[str, Any]] = field(default_factory=list)
    """detector, flagged_n, negative_when_flagged, clean_n, negative_when_clean"""
    comments: list[dict[str, Any]] = field(default_factory=list)  # received_at, app, score, comment


def fetch_feedback(reader: Any) -> FeedbackData:
    """Feedback received in the report's window (``reader`` is the report's parameterized reader)."""
    head = reader.rows(
        "SELECT count() AS items, sum(negative) AS negative, sum(unmatched) AS unmatched "
        f"FROM {{db}}.feedback_events WHERE {_RECEIVED}"
    )[0]
    data = FeedbackData(int(head["items"]), int(head["negative"] or 0), int(head["unmatched"] or 0))
    if not data.items:
        return data
    data.by_app = reader.rows(
        "SELECT app, count() AS items, avg(negative) AS negative_rate "
        f"FROM {{db}}.feedback_dedup WHERE {_RECEIVED} GROUP BY app ORDER BY items DESC, app LIMIT 10"
    )
    data.by_detector = reader.rows(
        "SELECT s.detector AS detector, "
        "countIf(s.flagged = 1) AS flagged_n, avgIf(f.negative, s.flagged = 1) AS negative_when_flagged, "
        "countIf(s.flagged = 0) AS clean_n, avgIf(f.negative, s.flagged = 0) AS negative_when_clean "
        "FROM {db}.feedback_events AS f INNER JOIN {db}.scores_dedup AS s ON s.event_id = f.matched_event_id "
        f"WHERE f.unmatched = 0 AND s.score IS NOT NULL AND f.{_RECEIVED} "
        "GROUP BY detector ORDER BY detector"
    )
    data.comments = reader.rows(
        "SELECT received_at, app, score_kind, value, negative, comment FROM {db}.feedback_dedup "
        f"WHERE {_RECEIVED} AND comment != '' AND negative = 1 ORDER BY received_at DESC LIMIT 10"
    )
    return data


def _pct(value: Any, n: Any) -> str:
    return "–" if not n or value is None or value != value else f"{float(value):.0%}"


def render_feedback(data: FeedbackData) -> str:
    if not data.items:
        return '<section><h2>User feedback</h2><p class="muted">no feedback in this window</p></section>'
    rate = data.negative / data.items
    head = (
        f"<p>{data.items} feedback items, {rate:.0%} negative"
        f"{f', {data.unmatched} not joined to an event yet' if data.unmatched else ''}.</p>"
    )
    apps = "".join(
        f"<tr><td>{escape(str(r['app']))}</td><td class=num>{int(r['items'])}</td>"
        f"<td class=num>{_pct(r['negative_rate'], r['items'])}</td></tr>"
        for r in data.by_app
    )
    detectors = "".join(
        f"<tr><td>{escape(str(r['detector']))}</td>"
        f"<td class=num>{_pct(r['negative_when_flagged'], r['flagged_n'])} ({int(r['flagged_n'])})</td>"
        f"<td class=num>{_pct(r['negative_when_clean'], r['clean_n'])} ({int(r['clean_n'])})</td></tr>"
        for r in data.by_detector
    )
    comments = "".join(
        f"<tr><td>{r['received_at']:%Y-%m-%d %H:%M}</td><td>{escape(str(r['app']))}</td>"
        f"<td>{escape(str(r['comment'])[:200])}</td></tr>"
        for r in data.comments
    )
    return (
        "<section><h2>User feedback</h2>"
        + head
        + '<div class="cols"><div><h3>by app</h3>'
        + (
            f"<table><thead><tr><th>app</th><th>items</th><th>negative</th></tr></thead><tbody>{apps}</tbody></table>"
        )
        + "</div><div><h3>feedback vs detectors: negative rate when the answer was flagged / not flagged</h3>"
        + (
            "<table><thead><tr><th>detector</th><th>flagged (n)</th><th>not flagged (n)</th></tr></thead>"
            f"<tbody>{detectors}</tbody></table>"
            if detectors
            else '<p class="muted">no feedback joined to scored events</p>'
        )
        + "</div></div>"
        + (
            "<h3>latest negative comments</h3><table><thead><tr><th>received</th><th>app</th>"
            f"<th>comment</th></tr></thead><tbody>{comments}</tbody></table>"
            if comments
            else ""
        )
        + "</section>"
    )
