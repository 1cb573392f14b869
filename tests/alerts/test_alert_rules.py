"""Rule loading and validation: invalid rules are rejected naming the rule and the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from lightkeeper.alerts.rules import load_rules, parse_duration, parse_rules
from lightkeeper.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "alerts" / "examples" / "rules.yaml"


def _one(**fields: object) -> dict:
    rule = {"name": "r1", "metric": "error_rate", "threshold": 0.1}
    rule.update(fields)
    return {"rules": [rule]}


def test_example_file_loads_with_configured_routes():
    rules = load_rules(EXAMPLES, routes={"slack-oncall", "pagerduty"})
    names = {r.name for r in rules}
    assert {"toxicity-rate-high", "team-cost-per-hour", "any-drift", "anomaly-high"} <= names
    tox = next(r for r in rules if r.name == "toxicity-rate-high")
    assert tox.window == timedelta(minutes=5) and tox.for_ == timedelta(minutes=2)
    assert next(r for r in rules if r.name == "anomaly-high").threshold == 3  # "high" -> rank 3


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"metric": "toxicity"}, "metric", "not a model metric"),
        ({"series": "users"}, "series", "unknown series"),
        ({"window": "5 minutes"}, "window", "invalid duration"),
        ({"window": "30s"}, "window", "whole number of minutes"),
        ({"op": "=>"}, "op", "Input should be"),
        ({"threshold": "lots"}, "threshold", "valid number"),
        ({"group_by": ["user_id"]}, "group_by", "unknown label"),
        ({"severity": "urgent"}, "severity", "Input should be"),
        ({"aggregate": "median"}, "aggregate", "Input should be"),
        ({"frobnicate": 1}, "frobnicate", "Extra inputs"),
        ({"notify_by": ["app"], "group_by": ["model"]}, "notify_by", "subset of group_by"),
        ({"for": "-1m"}, "for", "invalid duration"),
    ],
)
def test_invalid_rule_names_rule_and_field(fields, field, fragment):
    with pytest.raises(ConfigError) as err:
        parse_rules(_one(**fields), source="rules.yaml")
    msg = str(err.value)
    assert "rule 'r1'" in msg and f"field '{field}'" in msg and fragment in msg, msg


def test_missing_threshold_and_bad_name():
    with pytest.raises(ConfigError) as err:
        parse_rules({"rules": [{"name": "bad name!", "metric": "errors"}]})
    msg = str(err.value)
    assert "field 'threshold'" in msg and "field 'name'" in msg


def test_every_problem_reported_at_once_and_duplicates():
    data = {
        "rules": [
            {"name": "a", "metric": "nope", "threshold": 1},
            {"name": "b", "metric": "errors", "threshold": 1, "routes": ["pager"]},
            {"name": "b", "metric": "errors", "threshold": 2},
        ]
    }
    with pytest.raises(ConfigError) as err:
        parse_rules(data, routes={"slack"})
    msg = str(err.value)
    assert "3 problem(s)" in msg
    assert "rule 'a': field 'metric'" in msg
    assert "rule 'b': field 'routes': unknown route(s) ['pager']" in msg
    assert "duplicate rule name" in msg


def test_defaults_merge_and_top_level_checks():
    rules = parse_rules({"defaults": {"routes": ["x"], "window": "10m"}, "rules": [_one()["rules"][0]]})
    assert rules[0].routes == ("x",) and rules[0].window == timedelta(minutes=10)
    with pytest.raises(ConfigError, match="unknown top-level"):
        parse_rules({"rule": []})
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_rules([1, 2])


def test_files_not_found_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_rules(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_rules(bad)


def test_durations():
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration(60) == timedelta(minutes=1)
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_tag_series_labels():
    [rule] = parse_rules(_one(metric="cost_usd", series="tag:team", group_by=["team"], aggregate="sum"))
    assert rule.group_by == ("team",)
    with pytest.raises(ConfigError, match="field 'metric'"):
        parse_rules(_one(metric="toxicity_rate", series="tag:team"))
