"""Alert rules: the YAML format, its validation and loading.

A rules file holds ``rules:`` (a list) and optional ``defaults:`` merged under each rule::

    defaults: {routes: [slack-oncall], renotify: 4h}
    rules:
      - name: toxicity-rate-high
        metric: toxicity_rate        # a per-minute metric (see SERIES)
        series: model                # model | user | tag:<name> | drift | anomaly | feedback | release
        where: {app: chatbot}        # label equality filters (a list value = any of)
        aggregate: avg               # sum avg max min last count p50 p90 p95 p99
        window: 5m
        op: ">"
        threshold: 0.02
        min_weight: 20               # ignore windows summarizing fewer observations
        group_by: [app]              # one alert per distinct value set
        for: 2m                      # breached this long before firing
        severity: high
        labels: {team: safety}
        routes: [slack-safety, pagerduty]

Loading validates every rule and raises :class:`~lightkeeper.errors.ConfigError` whose message
names the file, the rule and the field of each problem.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lightkeeper.errors import ConfigError
from lightkeeper.schemas.records import Severity

#: Series -> the labels its points carry.
SERIES_LABELS: dict[str, tuple[str, ...]] = {
    "model": ("app", "model"),
    "user": ("app", "user_id"),
    "drift": ("app", "model", "key", "target"),
    "anomaly": ("app", "model", "user_id", "metric", "detector"),
    "feedback": ("app",),
    "release": ("app",),
}
_EVENT_METRICS = {
    "requests",
    "errors",
    "error_rate",
    "cost_usd",
    "tokens",
    "input_tokens",
    "output_tokens",
    "latency_p95_ms",
}
_QUALITY_METRICS = {
    "toxicity_rate",
    "hallucination_rate",
    "hallucination_score",
    "injection_rate",
    "pii_rate",
}
#: Series -> metrics it carries.
SERIES_METRICS: dict[str, set[str]] = {
    "model": _EVENT_METRICS | _QUALITY_METRICS,
    "user": set(_EVENT_METRICS),
    "tag": set(_EVENT_METRICS),
    "drift": {"drift_score", "drifted"},
    "anomaly": {"anomaly_severity", "anomaly_score"},
    "feedback": {"negative_feedback_rate"},
    # release regressions (alerts/releases.py): the newest release of an app against the one
    # before; "any" checks every metric, flag_rate:<detector> one detector
    "release": {"any", "cost_per_call_usd", "latency_p50_ms", "latency_p95_ms", "error_rate", "drift_rate"},
}
SEVERITY_RANK: dict[str, int] = {s.value: i for i, s in enumerate(Severity)}
AGGREGATES = ("sum", "avg", "max", "min", "last", "count", "p50", "p90", "p95", "p99")
OPS = (">", ">=", "<", "<=", "==", "!=")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> timedelta:
    """``"90s"``, ``"5m"``, ``"1h"``, ``"1d"`` or a number of seconds -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m, 1h")
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"invalid duration {value!r}: expected a number with unit ms, s, m, h or d")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def series_labels(series: str) -> tuple[str, ...]:
    if series.startswith("tag:"):
        return ("app", series[4:])
    return SERIES_LABELS[series]


class Rule(BaseModel):
    """One validated alert rule."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: str
    description: str = ""
    metric: str
    series: str = "model"
    where: dict[str, str | list[str]] = Field(default_factory=dict)
    aggregate: Literal["sum", "avg", "max", "min", "last", "count", "p50", "p90", "p95", "p99"] = "avg"
    window: timedelta = timedelta(minutes=5)
    op: Literal[">", ">=", "<", "<=", "==", "!="] = ">"
    threshold: float
    min_weight: float = Field(default=0.0, ge=0)
    group_by: tuple[str, ...] = ()
    for_: timedelta = Field(default=timedelta(0), alias="for")
    severity: Severity = Severity.MEDIUM
    labels: dict[str, str] = Field(default_factory=dict)
    routes: tuple[str, ...] = ()
    notify_by: tuple[str, ...] | None = None
    """Labels that make one notification: alerts of this rule that agree on them are sent
    together (default: ``group_by``, i.e. one notification per alert)."""
    renotify: timedelta | None = timedelta(hours=4)
    """Repeat a still-firing notification this often (null: never)."""
    group_wait: timedelta = timedelta(0)
    """Hold a new incident's first notification this long so simultaneous alerts join it."""
    summary: str = ""
    """Text template; ``{value}``, ``{threshold}`` and any label (``{app}``) are substituted."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("must be 1-128 characters of letters, digits, '_', '.', ':' or '-'")
        return v

    @field_validator("window", "for_", "group_wait", "renotify", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, v: Any) -> Any:
        if isinstance(v, str) and v.lower() in SEVERITY_RANK:
            return SEVERITY_RANK[v.lower()]
        return v

    @field_validator("group_by", "routes", "notify_by", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _semantics(self) -> Rule:
        base = "tag" if self.series.startswith("tag:") else self.series
        if base not in SERIES_METRICS or (base == "tag" and len(self.series) <= 4):
            raise ValueError(
                f"series: unknown series {self.series!r} "
                "(model, user, tag:<name>, drift, anomaly, feedback, release)"
            )
        if self.metric not in SERIES_METRICS[base] and not (
            base == "release" and self.metric.startswith("flag_rate:") and len(self.metric) > 10
        ):
            known = ", ".join(sorted(SERIES_METRICS[base]))
            raise ValueError(f"metric: {self.metric!r} is not a {base} metric (known: {known})")
        allowed = series_labels(self.series)
        for fld, keys in (
            ("group_by", self.group_by),
            ("where", tuple(self.where)),
            ("notify_by", self.notify_by or ()),
        ):
            bad = [k for k in keys if k not in allowed]
            if bad:
                raise ValueError(
                    f"{fld}: unknown label(s) {bad} for series {self.series} (has {list(allowed)})"
                )
        if self.notify_by is not None and not set(self.notify_by) <= set(self.group_by):
            raise ValueError("notify_by: must be a subset of group_by")
        if self.window < timedelta(minutes=1) or self.window.total_seconds() % 60:
            raise ValueError("window: must be a whole number of minutes, at least 1m")
        if self.for_ < timedelta(0):
            raise ValueError("for: must not be negative")
        if self.renotify is not None and self.renotify < timedelta(minutes=1):
            raise ValueError("renotify: must be at least 1m (or null for never)")
        return self

    @property
    def notify_labels(self) -> tuple[str, ...]:
        return self.group_by if self.notify_by is None else self.notify_by

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a point's labels pass the ``where`` filters."""
        for k, want in self.where.items():
            got = labels.get(k)
            if (got not in want) if isinstance(want, list) else (got != want):
                return False
        return True


def _format_problem(where: str, exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or None
        msg = err["msg"].removeprefix("Value error, ")
        field = loc or (msg.split(":", 1)[0] if ":" in msg else "<rule>")
        if not loc and ":" in msg:
            msg = msg.split(":", 1)[1].strip()
        out.append(f"{where}: field '{'for' if field == 'for_' else field}': {msg}")
    return out


def parse_rules(data: Any, *, source: str = "<rules>", routes: set[str] | None = None) -> list[Rule]:
    """Validate a parsed rules document. ``routes``, when given, are the configured route names
    every rule's routes must be among. Raises :class:`ConfigError` listing every problem."""
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("rules", []), list):
        raise ConfigError(f"{source}: expected a mapping with a 'rules' list")
    unknown = set(data) - {"rules", "defaults"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key(s) {sorted(unknown)} (expected rules, defaults)")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{source}: 'defaults' must be a mapping")
    problems: list[str] = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("rules") or []):
        if not isinstance(raw, dict):
            problems.append(f"{source}: rule #{i + 1}: expected a mapping, got {type(raw).__name__}")
            continue
        name = raw.get("name", f"#{i + 1}")
        where = f"{source}: rule '{name}'"
        try:
            rule = Rule.model_validate({**defaults, **raw})
        except ValidationError as exc:
            problems.extend(_format_problem(where, exc))
            continue
        if rule.name in seen:
            problems.append(f"{where}: field 'name': duplicate rule name")
        seen.add(rule.name)
        if routes is not None:
            missing = [r for r in rule.routes if r not in routes]
            if missing:
                problems.append(
                    f"{where}: field 'routes': unknown route(s) {missing} (configured: {sorted(routes)})"
                )
        rules.append(rule)
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in alert rules:\n  " + "\n  ".join(problems))
    return rules


def load_rules(path: str | Path, *, routes: set[str] | None = None) -> list[Rule]:
    """Read and validate a YAML rules file."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"rules file not found: {p}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"rules file {p} is not valid YAML: {exc}") from None
    return parse_rules(data, source=str(p), routes=routes)
