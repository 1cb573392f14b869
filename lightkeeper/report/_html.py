"""The report page: one self-contained HTML document (inline CSS and SVG, no script, no links).

Every value that comes from the store is escaped with :func:`html.escape` (app, model, user
names, prompts, alert summaries and labels are user-supplied)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from html import escape
from typing import Any

from lightkeeper.report._data import ReportData
from lightkeeper.report._feedback import render_feedback
from lightkeeper.report._svg import Series, bar_chart, format_number, time_chart
from lightkeeper.report.releases import render_releases_html

_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;
background:#f4f5f7;color:#222}
header{background:#1f2d3d;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#c9d3dd;font-size:13px}
main{padding:16px 32px 40px;max-width:1240px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:14px 18px;margin:14px 0}
h2{font-size:16px;margin:0 0 10px}h3{font-size:13px;margin:6px 0;color:#444}
.kpis{display:flex;flex-wrap:wrap;gap:10px}
.kpi{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:10px 16px;min-width:120px}
.kpi b{display:block;font-size:22px}.kpi span{font-size:12px;color:#666}
.cols{display:flex;gap:16px;flex-wrap:wrap}.cols>div{flex:1;min-width:300px}
table{border-collapse:collapse;width:100%;font-size:12px}
th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top;white-space:nowrap}
th{background:#f7f8fa;font-weight:600}td.num{text-align:right;white-space:nowrap}
td.text{max-width:420px;overflow-wrap:anywhere;white-space:normal}
.sev-critical,.sev-high{color:#b00020;font-weight:600}.sev-medium{color:#b35c00}
.firing{color:#b00020;font-weight:600}.resolved{color:#2e7d32}
.muted{color:#888}svg.chart{display:block;max-width:100%}
"""


def _cell(value: Any, cls: str = "") -> str:
    attr = f' class="{escape(cls)}"' if cls else ""
    return f"<td{attr}>{escape(_text(value))}</td>"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _clip(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _usd(value: float | None) -> str:
    return "" if value is None else f"${value:,.4f}" if value < 10 else f"${value:,.2f}"


def _table(headers: list[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _kpis(data: ReportData) -> str:
    s = data.summary
    error_rate = f"{s.errors / s.requests:.1%}" if s.requests else "–"
    items = [
        ("requests", f"{s.requests:,}"),
        ("error rate", error_rate),
        ("cost", _usd(s.cost_usd)),
        ("p95 latency", "–" if s.p95_latency_ms is None else f"{s.p95_latency_ms:,.0f} ms"),
        ("apps / users", f"{s.apps} / {s.users}"),
        ("flagged events", f"{s.flagged_events:,}"),
        ("drift detections", f"{s.drift_detections:,}"),
        ("alerts firing", f"{s.alerts_firing:,}"),
    ]
    return (
        '<div class="kpis">'
        + "".join(f'<div class="kpi"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for k, v in items)
        + "</div>"
    )


def _traffic(data: ReportData) -> str:
    rows = data.traffic
    requests = time_chart(
        [
            Series("requests", [(r["t"], float(r["requests"])) for r in rows]),
            Series("errors", [(r["t"], float(r["errors"])) for r in rows]),
        ],
        y_label=f"calls per {data.bucket_s} s",
    )
    cost = time_chart(
        [Series("cost (USD)", [(r["t"], r["cost"]) for r in rows])],
        y_label=f"USD per {data.bucket_s} s",
        value_format=lambda v: f"${format_number(v)}",
    )
    latency = time_chart(
        [
            Series("p50", [(r["t"], r["p50"]) for r in rows]),
            Series("p95", [(r["t"], r["p95"]) for r in rows], dashed=True),
        ],
        y_label="latency (ms)",
    )
    return (
        f"<section><h2>Traffic and cost over time</h2><h3>Requests and errors</h3>{requests}"
        f"<h3>Cost</h3>{cost}</section>"
        f"<section><h2>Latency</h2><h3>p50 and p95 per {data.bucket_s} s</h3>{latency}</section>"
    )


def _cost_by(data: ReportData) -> str:
    blocks = []
    for label, items in data.cost_by.items():
        chart = bar_chart(items, value_format=lambda v: _usd(v), width=400)
        blocks.append(f"<div><h3>by {escape(label)} (top 10)</h3>{chart}</div>")
    return f'<section><h2>Cost breakdown</h2><div class="cols">{"".join(blocks)}</div></section>'


def _quality(data: ReportData) -> str:
    by_detector: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for row in data.flag_rates:
        by_detector[str(row["detector"])].append((row["t"], float(row["rate"]) * 100))
    chart = time_chart(
        [Series(name, points) for name, points in sorted(by_detector.items())],
        y_label="% of scored calls flagged",
        value_format=lambda v: f"{v:.0f}%",
    )
    return f"<section><h2>Quality: flag rate per detector</h2>{chart}</section>"


def _drift(data: ReportData) -> str:
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for row in data.drift:
        threshold = float(row["threshold"] or 0)
        ratio = float(row["score"]) / threshold if threshold > 0 else float(row["score"])
        series[f"{row['app']} · {row['model']} · {row['target']}"].append((row["detected_at"], ratio))
    chart = time_chart(
        [Series(name, points) for name, points in sorted(series.items())],
        y_label="drift score / threshold (above 1 = drifted)",
        threshold=1.0,
        value_format=lambda v: f"{v:.2f}",
        height=220,
    )
    rows = [
        "<tr>"
        + _cell(r["detected_at"])
        + _cell(r["app"])
        + _cell(r["model"])
        + _cell(f"{r['target']} / {r['key']}" if r["key"] else r["target"])
        + _cell(r["method"])
        + _cell(f"{float(r['score']):.3f} / {float(r['threshold']):.3f}", "num")
        + _cell(f"{r['current_size']} vs {r['reference_size']}", "num")
        + _cell(_clip(", ".join(r["top_features"] or []), 120), "text")
        + "</tr>"
        for r in reversed(data.drift)
        if r["drifted"]
    ][:15]
    table = _table(
        ["detected", "app", "model", "target / key", "method", "score / threshold", "windows", "features"],
        rows,
        "no drift detected in this window",
    )
    return f"<section><h2>Drift timeline</h2>{chart}<h3>Drift detections</h3>{table}</section>"


def _alerts(data: ReportData) -> str:
    rows = [
        "<tr>"
        + _cell(r["updated_at"])
        + _cell(r["rule"])
        + _cell(r["severity"], f"sev-{r['severity']}")
        + _cell(r["state"], str(r["state"]))
        + _cell(r["delivery_status"])
        + _cell(_clip(r["summary"], 200), "text")
        + _cell(_clip(_text(r["labels"]), 120), "text")
        + "</tr>"
        for r in data.alerts
    ]
    table = _table(
        ["updated", "rule", "severity", "state", "delivery", "summary", "labels"],
        rows,
        "no alerts in this window",
    )
    return f"<section><h2>Recent alerts</h2>{table}</section>"


def _events(title: str, events: list[dict[str, Any]], flagged: bool, empty: str) -> str:
    headers = ["time", "app", "model", "user", "latency ms", "cost"]
    headers += ["flagged by", "worst score"] if flagged else ["error"]
    headers += ["prompt (last user message)", "event id"]
    rows = []
    for e in events:
        cells = [
            _cell(e["start_time"]),
            _cell(e["app"]),
            _cell(e["model"]),
            _cell(e["user_id"]),
            _cell(f"{float(e['duration_ms'] or 0):,.0f}", "num"),
            _cell(_usd(e["cost_usd"]), "num"),
        ]
        if flagged:
            worst = None if e["worst"] is None else f"{e['worst']:.2f}"
            cells += [_cell(e["detectors"]), _cell(worst, "num")]
        else:
            cells.append(_cell(e["error_type"] if e["is_error"] else ""))
        cells += [_cell(_clip(e["prompt"]), "text"), _cell(str(e["event_id"])[:13] + "…")]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<section><h2>{escape(title)}</h2>{_table(headers, rows, empty)}</section>"


def render(data: ReportData, *, title: str = "Lightkeeper overview", generated_at: datetime) -> str:
    """The complete HTML document for ``data``."""
    window = f"{data.start:%Y-%m-%d %H:%M} – {data.end:%Y-%m-%d %H:%M} UTC"
    body = [
        _kpis(data),
        _traffic(data),
        _cost_by(data),
        _quality(data),
        _drift(data),
        _alerts(data),
        render_feedback(data.feedback),
        render_releases_html(data.releases),
        _events("Worst events: most detectors flagged", data.flagged_events, True, "no flagged events"),
        _events("Most expensive calls", data.costly_events, False, "no priced calls"),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p>database {escape(data.database)} · {escape(window)} · "
        f"generated {generated_at:%Y-%m-%d %H:%M:%S} UTC</p></header>"
        f"<main>{''.join(body)}</main></body></html>\n"
    )
