"""The provisioned Grafana dashboards: structure, provisioning files, and every panel's SQL run
(Grafana macros and variables expanded) against an embedded store filled by the demo."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
COMPOSE = GRAFANA.parent / "compose" / "docker-compose.yaml"
DS_UID = "lightkeeper-clickhouse"
INTERVAL_S = 60

#: Panels the demo's data cannot fill (it produces no anomalies in its short run).
MAY_BE_EMPTY = {"Anomalies"}


def _dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))}


def _panels() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{name}:{panel['title']}", panel)
        for name, board in _dashboards().items()
        for panel in board["panels"]
        if panel["type"] != "row"
    ]


PANELS = _panels()


# --- the macro expander: what the grafana-clickhouse-datasource plugin sends to ClickHouse ----------


class Expander:
    """Expands the plugin's macros for a fixed time range and interval, and the dashboard
    variables (``${name:singlequote}``, ``${name}``, ``$name``) for given values."""

    def __init__(self, start: datetime, end: datetime, variables: dict[str, list[str]]) -> None:
        self.start, self.end, self.variables = start, end, variables

    def __call__(self, sql: str) -> str:
        s, e = int(self.start.timestamp()), int(self.end.timestamp())
        sm, em = int(self.start.timestamp() * 1000), int(self.end.timestamp() * 1000)
        rules: list[tuple[str, str]] = [
            (
                r"\$__timeFilter_ms\(([^()]+)\)",
                rf"\1 >= fromUnixTimestamp64Milli({sm}) AND \1 <= fromUnixTimestamp64Milli({em})",
            ),
            (r"\$__timeFilter\(([^()]+)\)", rf"\1 >= toDateTime({s}) AND \1 <= toDateTime({e})"),
            (
                r"\$__timeInterval_ms\(([^()]+)\)",
                rf"toStartOfInterval(toDateTime64(\1, 3), INTERVAL {INTERVAL_S * 1000} millisecond)",
            ),
            (
                r"\$__timeInterval\(([^()]+)\)",
                rf"toStartOfInterval(toDateTime(\1), INTERVAL {INTERVAL_S} second)",
            ),
            (r"\$__fromTime_ms\b", f"fromUnixTimestamp64Milli({sm})"),
            (r"\$__toTime_ms\b", f"fromUnixTimestamp64Milli({em})"),
            (r"\$__fromTime\b", f"toDateTime({s})"),
            (r"\$__toTime\b", f"toDateTime({e})"),
            (r"\$__interval_s\b", str(INTERVAL_S)),
        ]
        for pattern, replacement in rules:
            sql = re.sub(pattern, replacement, sql)
        sql = re.sub(r"\$\{(\w+):singlequote\}", lambda m: self._values(m.group(1), quoted=True), sql)
        plain = r"\$\{(\w+)\}|\$(?!__)(\w+)\b"  # ${name} or $name, not a $__macro
        sql = re.sub(plain, lambda m: self._values(m.group(1) or m.group(2), quoted=False), sql)
        if "$" in sql:
            raise ValueError(f"unexpanded macro or variable left in: {sql}")
        return sql

    def _values(self, name: str, *, quoted: bool) -> str:
        if name not in self.variables:
            raise ValueError(f"unknown variable ${name}")
        values = self.variables[name]
        if quoted:  # the plugin's singlequote format escapes ' as \'
            return ",".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)
        return ",".join(values)


def test_expander_matches_the_plugin_macros() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    expand = Expander(start, start + timedelta(hours=1), {"app": ["a", "it's"]})
    assert expand("WHERE $__timeFilter(t) AND app IN (${app:singlequote})") == (
        "WHERE t >= toDateTime(1767225600) AND t <= toDateTime(1767229200) AND app IN ('a','it\\'s')"
    )
    assert expand("$__timeInterval(s.t)") == "toStartOfInterval(toDateTime(s.t), INTERVAL 60 second)"
    with pytest.raises(ValueError, match="unknown variable"):
        expand("$user")
    with pytest.raises(ValueError, match="unexpanded"):
        expand("$__conditionalAll(x, $app)")


# --- structure and provisioning -----------------------------------------------------------------


def test_checked_in_json_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("build_dashboards", GRAFANA / "build_dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    rendered = module.render()
    assert rendered, "no dashboards generated"
    for name, text in rendered.items():
        assert (GRAFANA / "dashboards" / name).read_text() == text, (
            f"{name} is stale: run build_dashboards.py"
        )


def test_dashboards_are_well_formed() -> None:
    boards = _dashboards()
    assert boards
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for name, board in boards.items():
        assert board["schemaVersion"] >= 36, name
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
            mine = {
                (x, y)
                for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])
            }
            assert not cells & mine, f"{name}: panel {panel['title']!r} overlaps another"
            cells |= mine
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "grafana-clickhouse-datasource", "uid": DS_UID}
            assert panel["targets"] and all(t["rawSql"].strip() for t in panel["targets"])
        for variable in board["templating"]["list"]:
            assert variable["datasource"]["uid"] == DS_UID and variable["query"]
    titles = {p["title"] for _, p in PANELS}
    for topic in (
        "Requests by app",
        "Cost by model",
        "Top users by cost",
        "Latency p50 / p95 / p99",
        "Error rate by model",
        "Flag rate by detector",
        "Drift score / threshold",
        "Recent alerts",
    ):
        assert topic in titles


def test_provisioning_points_at_the_compose_clickhouse() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml").read_text())
    (ds,) = datasources["datasources"]
    assert ds["type"] == "grafana-clickhouse-datasource" and ds["uid"] == DS_UID
    assert ds["jsonData"]["host"] == "clickhouse" and ds["jsonData"]["defaultDatabase"] == "lightkeeper"
    assert ds["jsonData"]["username"] == "lightkeeper" and ds["secureJsonData"]["password"] == "lightkeeper"
    compose = yaml.safe_load(COMPOSE.read_text())
    clickhouse = compose["services"]["clickhouse"]
    assert (
        f"{ds['jsonData']['port']}:" in " ".join(clickhouse.get("ports", []))
        or ds["jsonData"]["port"] == 8123
    )
    assert clickhouse["environment"]["CLICKHOUSE_USER"] == ds["jsonData"]["username"]
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "lightkeeper.yaml").read_text())
    path = providers["providers"][0]["options"]["path"]
    mounts = compose["services"]["grafana"]["volumes"]
    assert any(m.startswith("../grafana/dashboards:") and m.split(":")[1] == path for m in mounts), mounts
    assert any(m.split(":")[1] == "/etc/grafana/provisioning" for m in mounts)


# --- every query against the demo's data ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo_store(demo_filled_store: tuple[Any, str]) -> Any:
    return demo_filled_store[0]


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=6), now + timedelta(minutes=1)


def _variable_values(client: Any, board: dict[str, Any]) -> dict[str, list[str]]:
    """Each variable's options, resolved in order the way Grafana does, with "All" selected."""
    values: dict[str, list[str]] = {}
    start, end = _window()
    for variable in board["templating"]["list"]:
        sql = Expander(start, end, values)(variable["query"])
        values[variable["name"]] = [str(row[0]) for row in client.query(sql).result_rows]
    return values


def test_variable_queries_list_the_demo_apps_and_models(demo_store: Any) -> None:
    for board in _dashboards().values():
        values = _variable_values(demo_store, board)
        assert len(values["app"]) >= 3 and len(values["model"]) >= 3, values


@pytest.mark.parametrize("selection", ["all", "one-app"])
@pytest.mark.parametrize(("title", "panel"), PANELS, ids=[t for t, _ in PANELS])
def test_panel_sql_runs_on_demo_data(
    demo_store: Any, title: str, panel: dict[str, Any], selection: str
) -> None:
    board = next(b for b in _dashboards().values() if panel in b["panels"])
    values = _variable_values(demo_store, board)
    if selection == "one-app":
        busiest = demo_store.query(
            "SELECT app FROM events_dedup GROUP BY app ORDER BY count() DESC LIMIT 1"
        ).result_rows[0][0]
        values["app"] = [str(busiest)]
    start, end = _window()
    for target in panel["targets"]:
        sql = Expander(start, end, values)(target["rawSql"])
        result = demo_store.query(sql)  # raises on any SQL error
        if selection == "all" and panel["title"] not in MAY_BE_EMPTY:
            assert result.result_rows, f"{title} returned no rows on demo data:\n{sql}"
        if panel["type"] == "timeseries":
            assert "DateTime" in result.column_types[0].name, f"{title}: first column must be the time"


def test_a_broken_panel_query_fails(demo_store: Any) -> None:
    """The harness is not vacuous: SQL the store rejects makes the panel check fail."""
    start, end = _window()
    sql = Expander(start, end, {})("SELECT no_such_column FROM events_dedup WHERE $__timeFilter(start_time)")
    with pytest.raises(Exception, match="no_such_column"):
        demo_store.query(sql)


def test_annotation_query_runs(demo_store: Any) -> None:
    start, end = _window()
    for board in _dashboards().values():
        for annotation in board["annotations"]["list"]:
            rows = demo_store.query(Expander(start, end, {})(annotation["target"]["rawSql"])).result_rows
            assert rows, "the demo fires alerts: the annotation query must find them"
