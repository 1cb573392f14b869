"""Generate the provisioned Grafana dashboards (``deploy/grafana/dashboards/*.json``).

The JSON files are checked in (Grafana provisions them as they are); this script is their
source. Edit the panels here, run ``python deploy/grafana/build_dashboards.py`` and commit both;
``tests/deploy/test_grafana.py`` fails when the JSON is not what this script writes.

Every panel queries the analysts' views (``events_dedup``, ``scores_dedup``, ``drift_dedup``,
``anomalies_dedup``, ``alerts_latest``, ``rollup_minute_v``) or the rollup state table
(``rollup_minute``, for merged latency quantiles) through the grafana-clickhouse-datasource
plugin, with its macros (``$__timeFilter``, ``$__timeInterval``) and the dashboard variables
``app`` and ``model`` (multi-value, "All" included).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "lightkeeper-clickhouse"}
OUT_DIR = Path(__file__).resolve().parent / "dashboards"

#: Filters on the dashboard variables, for tables with ``app`` / ``model`` columns.
APP = "app IN (${app:singlequote})"
APP_MODEL = "app IN (${app:singlequote}) AND model IN (${model:singlequote})"


@dataclass
class Panel:
    """One panel: its title, Grafana type, SQL, size and (for tables/series) display options."""

    title: str
    kind: str  # timeseries | stat | table | barchart
    sql: str
    width: int = 12
    height: int = 8
    unit: str = ""
    description: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)


def _rows() -> list[tuple[str, list[Panel]]]:
    win = "$__timeFilter(minute)"
    return [
        (
            "Traffic",
            [
                Panel(
                    "Requests",
                    "stat",
                    f"SELECT sum(requests) AS requests FROM rollup_minute_v WHERE {win} AND {APP_MODEL}",
                    6,
                    4,
                    "short",
                ),
                Panel(
                    "Error rate",
                    "stat",
                    f"SELECT sum(errors) / greatest(sum(requests), 1) AS error_rate "
                    f"FROM rollup_minute_v WHERE {win} AND {APP_MODEL}",
                    6,
                    4,
                    "percentunit",
                ),
                Panel(
                    "Cost",
                    "stat",
                    f"SELECT toFloat64(sum(cost_usd)) AS cost_usd FROM rollup_minute_v "
                    f"WHERE {win} AND {APP_MODEL}",
                    6,
                    4,
                    "currencyUSD",
                ),
                Panel(
                    "p95 latency",
                    "stat",
                    "SELECT quantilesMerge(0.5, 0.9, 0.95, 0.99)(latency_ms)[3] AS p95 "
                    f"FROM rollup_minute WHERE {win} AND {APP_MODEL}",
                    6,
                    4,
                    "ms",
                ),
                Panel(
                    "Requests by app",
                    "timeseries",
                    "SELECT $__timeInterval(minute) AS time, app, "
                    f"sum(requests) AS requests FROM rollup_minute_v WHERE {win} AND {APP_MODEL} "
                    "GROUP BY time, app ORDER BY time",
                    12,
                    8,
                    "short",
                ),
                Panel(
                    "Tokens",
                    "timeseries",
                    "SELECT $__timeInterval(minute) AS time, sum(input_tokens) AS input, "
                    "sum(output_tokens) AS output, sum(cache_read_input_tokens) AS cache_read "
                    f"FROM rollup_minute_v WHERE {win} AND {APP_MODEL} GROUP BY time ORDER BY time",
                    12,
                    8,
                    "short",
                ),
            ],
        ),
        (
            "Cost",
            [
                Panel(
                    "Cost by model",
                    "timeseries",
                    "SELECT $__timeInterval(minute) AS time, model, "
                    f"toFloat64(sum(cost_usd)) AS cost_usd FROM rollup_minute_v WHERE {win} AND {APP_MODEL} "
                    "GROUP BY time, model ORDER BY time",
                    12,
                    8,
                    "currencyUSD",
                ),
                Panel(
                    "Cost by app",
                    "barchart",
                    "SELECT app, toFloat64(sum(cost_usd)) AS cost_usd "
                    f"FROM rollup_minute_v WHERE {win} AND {APP_MODEL} GROUP BY app ORDER BY cost_usd DESC",
                    12,
                    8,
                    "currencyUSD",
                ),
                Panel(
                    "Top users by cost",
                    "table",
                    "SELECT user_id, app, count() AS requests, "
                    "toFloat64(sum(cost_usd)) AS cost_usd, sum(input_tokens) AS input_tokens, "
                    "sum(output_tokens) AS output_tokens FROM events_dedup "
                    f"WHERE $__timeFilter(start_time) AND {APP_MODEL} GROUP BY user_id, app "
                    "ORDER BY cost_usd DESC LIMIT 20",
                    12,
                    8,
                ),
                Panel(
                    "Calls without a price (unknown model)",
                    "table",
                    "SELECT app, model, "
                    f"sum(cost_unknown) AS unpriced_calls FROM rollup_minute_v WHERE {win} AND {APP_MODEL} "
                    "GROUP BY app, model HAVING unpriced_calls > 0 ORDER BY unpriced_calls DESC",
                    12,
                    8,
                    description="Calls whose model has no price: their cost is unknown (NULL), not 0.",
                ),
            ],
        ),
        (
            "Latency and errors",
            [
                Panel(
                    "Latency p50 / p95 / p99",
                    "timeseries",
                    "SELECT $__timeInterval(minute) AS time, "
                    "quantilesMerge(0.5, 0.9, 0.95, 0.99)(latency_ms) AS q, q[1] AS p50, q[3] AS p95, "
                    f"q[4] AS p99 FROM rollup_minute WHERE {win} AND {APP_MODEL} GROUP BY time ORDER BY time",
                    12,
                    8,
                    "ms",
                ),
                Panel(
                    "Time to first token p95 by model",
                    "timeseries",
                    "SELECT $__timeInterval(minute) AS time, "
                    "model, quantilesMerge(0.5, 0.9, 0.95, 0.99)(ttft_ms)[3] AS ttft_p95 FROM rollup_minute "
                    f"WHERE {win} AND {APP_MODEL} GROUP BY time, model HAVING ttft_p95 > 0 ORDER BY time",
                    12,
                    8,
                    "ms",
                ),
                Panel(
                    "Error rate by model",
                    "timeseries",
                    "SELECT $__timeInterval(minute) AS time, model, "
                    "sum(errors) / greatest(sum(requests), 1) AS error_rate FROM rollup_minute_v "
                    f"WHERE {win} AND {APP_MODEL} GROUP BY time, model ORDER BY time",
                    12,
                    8,
                    "percentunit",
                ),
                Panel(
                    "Errors by type",
                    "table",
                    "SELECT error_type, http_status, app, model, count() AS errors, "
                    "any(error_message) AS example FROM events_dedup WHERE $__timeFilter(start_time) "
                    f"AND is_error = 1 AND {APP_MODEL} GROUP BY error_type, http_status, app, model "
                    "ORDER BY errors DESC LIMIT 50",
                    12,
                    8,
                ),
            ],
        ),
        (
            "Quality",
            [
                Panel(
                    "Flag rate by detector",
                    "timeseries",
                    "SELECT $__timeInterval(event_time) AS time, "
                    "detector, avg(flagged) AS flag_rate FROM scores_dedup WHERE $__timeFilter(event_time) "
                    f"AND score IS NOT NULL AND {APP} GROUP BY time, detector ORDER BY time",
                    12,
                    8,
                    "percentunit",
                ),
                Panel(
                    "Flagged calls by detector",
                    "barchart",
                    "SELECT detector, countIf(flagged = 1) AS flagged, "
                    "count() AS scored FROM scores_dedup WHERE $__timeFilter(event_time) "
                    f"AND {APP} GROUP BY detector ORDER BY flagged DESC",
                    12,
                    8,
                    "short",
                ),
                Panel(
                    "Latest flagged calls",
                    "table",
                    "SELECT s.event_time AS time, s.detector AS detector, "
                    "round(s.score, 3) AS score, s.app AS app, e.model AS model, e.user_id AS user_id, "
                    "substring(e.output_text, 1, 200) AS response FROM scores_dedup AS s "
                    "INNER JOIN (SELECT event_id, model, user_id, output_text FROM events_dedup "
                    "WHERE $__timeFilter(start_time)) AS e ON e.event_id = s.event_id "
                    "WHERE s.flagged = 1 AND $__timeFilter(s.event_time) AND s.app IN (${app:singlequote}) "
                    "ORDER BY time DESC LIMIT 50",
                    24,
                    9,
                ),
            ],
        ),
        (
            "Drift and anomalies",
            [
                Panel(
                    "Drift score / threshold",
                    "timeseries",
                    "SELECT detected_at AS time, "
                    "concat(app, ' / ', model, ' / ', target) AS series, score / threshold AS ratio "
                    f"FROM drift_dedup WHERE $__timeFilter(detected_at) AND {APP} AND threshold > 0 "
                    "ORDER BY time",
                    12,
                    8,
                    "short",
                    description="Above 1 means drifted (each method has its own threshold).",
                ),
                Panel(
                    "Drift detections",
                    "table",
                    "SELECT detected_at, app, model, target, key, method, "
                    "round(score, 4) AS score, round(threshold, 4) AS threshold, current_size, "
                    "arrayStringConcat(top_features, ', ') AS top_features FROM drift_dedup "
                    f"WHERE $__timeFilter(detected_at) AND drifted = 1 AND {APP} ORDER BY detected_at DESC "
                    "LIMIT 50",
                    12,
                    8,
                ),
                Panel(
                    "Anomalies",
                    "table",
                    "SELECT window_start, app, model, user_id, metric, expected, actual, "
                    "round(score, 2) AS score, severity, detector FROM anomalies_dedup "
                    f"WHERE $__timeFilter(window_start) AND {APP} ORDER BY window_start DESC LIMIT 50",
                    24,
                    8,
                ),
            ],
        ),
        (
            "Alerts",
            [
                Panel(
                    "Alerts firing",
                    "stat",
                    "SELECT count() AS firing FROM alerts_latest WHERE state = 'firing'",
                    6,
                    8,
                    "short",
                ),
                Panel(
                    "Alerts started by severity",
                    "timeseries",
                    "SELECT $__timeInterval(started_at) AS time, "
                    "severity, count() AS alerts FROM alerts_latest WHERE $__timeFilter(started_at) "
                    "GROUP BY time, severity ORDER BY time",
                    18,
                    8,
                    "short",
                ),
                Panel(
                    "Recent alerts",
                    "table",
                    "SELECT updated_at, rule, severity, state, delivery_status, "
                    "attempts, summary, labels['app'] AS app, last_error FROM alerts_latest "
                    "WHERE $__timeFilter(updated_at) ORDER BY updated_at DESC LIMIT 100",
                    24,
                    9,
                ),
            ],
        ),
    ]


#: The plugin's ``format`` codes (grafana-clickhouse-datasource v4: TIME_SERIES = 0, TABLE = 1).
_FORMAT = {"timeseries": 0, "stat": 1, "table": 1, "barchart": 1}


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    is_series = panel.kind == "timeseries"
    options: dict[str, Any] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
    if panel.kind == "stat":
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
            "textMode": "auto",
        }
    elif panel.kind == "table":
        options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    elif panel.kind == "barchart":
        options = {**options, "orientation": "horizontal", "xTickLabelRotation": 0, "showValue": "auto"}
    defaults: dict[str, Any] = {"unit": panel.unit} if panel.unit else {}
    if is_series:
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 2,
            "fillOpacity": 10,
            "showPoints": "auto",
            "spanNulls": True,
        }
    result: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            {
                "refId": "A",
                "datasource": DATASOURCE,
                "editorType": "sql",
                "queryType": "timeseries" if is_series else "table",
                "format": _FORMAT[panel.kind],
                "rawSql": panel.sql,
            }
        ],
    }
    if panel.description:
        result["description"] = panel.description
    return result


def _variable(name: str, sql: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": sql,
        "definition": sql,
        "refresh": 2,  # on time range change
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
        "options": [],
    }


def overview() -> dict[str, Any]:
    """The "Lightkeeper overview" dashboard."""
    panels: list[dict[str, Any]] = []
    y, panel_id = 0, 1
    for row_title, row_panels in _rows():
        panels.append(
            {
                "id": panel_id,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        panel_id, y, x, row_h = panel_id + 1, y + 1, 0, 0
        for panel in row_panels:
            if x + panel.width > 24:
                x, y, row_h = 0, y + row_h, 0
            panels.append(_panel(panel, panel_id, x, y))
            panel_id, x, row_h = panel_id + 1, x + panel.width, max(row_h, panel.height)
        y += row_h
    return {
        "uid": "lightkeeper-overview",
        "title": "Lightkeeper overview",
        "description": "LLM traffic, cost, latency and errors, quality scores, drift and alerts "
        "(ClickHouse store of Lightkeeper).",
        "tags": ["lightkeeper", "llm"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                _variable(
                    "app", "SELECT DISTINCT app FROM rollup_minute WHERE $__timeFilter(minute) ORDER BY app"
                ),
                _variable(
                    "model",
                    "SELECT DISTINCT model FROM rollup_minute WHERE $__timeFilter(minute) "
                    "AND app IN (${app:singlequote}) ORDER BY model",
                ),
            ]
        },
        "annotations": {
            "list": [
                {
                    "name": "Alerts",
                    "datasource": DATASOURCE,
                    "enable": True,
                    "iconColor": "red",
                    "target": {
                        "refId": "Anno",
                        "editorType": "sql",
                        "format": 1,
                        "rawSql": "SELECT started_at AS time, resolved_at AS timeEnd, "
                        "concat(rule, ': ', summary) AS text, "
                        "severity AS tags FROM alerts_latest WHERE $__timeFilter(started_at) ORDER BY time",
                    },
                }
            ]
        },
        "panels": panels,
    }


DASHBOARDS = {"lightkeeper-overview.json": overview}


def render() -> dict[str, str]:
    """File name -> JSON text, exactly as checked in."""
    return {
        name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n" for name, build in DASHBOARDS.items()
    }


def main(argv: list[str]) -> int:
    texts = render()
    if "--check" in argv:
        stale = [n for n, t in texts.items() if not (OUT_DIR / n).is_file() or (OUT_DIR / n).read_text() != t]
        if stale:
            print(f"out of date: {', '.join(stale)} (run python deploy/grafana/build_dashboards.py)")
            return 1
        return 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (OUT_DIR / name).write_text(text)
        print(f"wrote {OUT_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
