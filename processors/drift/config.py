"""Drift configuration: windows, thresholds, features, per-app overrides.

Defaults are calibrated on the development replay (``bench/drift.py``, numbers in
``docs/drift.md``): a pinned reference of 1,000 events (reservoir-sampled over the baseline), a
sliding current window of 300 events checked every 50 events, a domain-classifier AUC test at
α = 1e-4 per check and two consecutive detections before a drift is declared.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from lightkeeper.errors import ConfigError

TargetName = Literal["prompt_embedding", "response_embedding", "metadata"]
TARGETS: tuple[TargetName, ...] = ("prompt_embedding", "response_embedding", "metadata")

DEFAULT_NUMERIC = ("input_tokens", "output_tokens", "duration_ms", "cost_usd", "prompt_chars")
DEFAULT_CATEGORICAL = ("finish_reason", "error_type", "tool_use", "script")


class WindowConfig(BaseModel):
    """Reference and current windows of one tracked key."""

    model_config = ConfigDict(extra="forbid")

    reference_mode: Literal["pinned", "trailing"] = "pinned"
    """``pinned``: a baseline (the first ``reference_size`` events, or a reservoir sample of the
    ``baseline_start``..``baseline_end`` period) kept until re-baselined. ``trailing``: the
    ``reference_size`` events just before the current window (a FIFO)."""
    reference_size: int = Field(default=1000, ge=20, le=20000)
    baseline_start: datetime | None = None
    baseline_end: datetime | None = None
    current_size: int = Field(default=300, ge=10, le=20000)
    step: int = Field(default=50, ge=1)
    """A check runs every ``step`` events once the current window is full (sliding);
    ``step == current_size`` makes the window tumbling."""
    max_age_s: float | None = Field(default=None, gt=0)
    """Only current-window events at most this old (relative to the newest) are checked."""
    check_interval_s: float | None = Field(default=None, gt=0)
    """Also check on a time cadence (event time) once ``min_current`` events are there."""
    min_current: int = Field(default=100, ge=10)

    @model_validator(mode="after")
    def _check(self) -> WindowConfig:
        if self.step > self.current_size:
            raise ValueError("step must be <= current_size")
        if self.min_current > self.current_size:
            raise ValueError("min_current must be <= current_size")
        if (self.baseline_start is None) != (self.baseline_end is None):
            raise ValueError("baseline_start and baseline_end go together")
        if self.baseline_start and self.baseline_end and self.baseline_end <= self.baseline_start:
            raise ValueError("baseline_end must be after baseline_start")
        if self.baseline_start and self.reference_mode != "pinned":
            raise ValueError("a baseline period needs reference_mode=pinned")
        return self


class ThresholdConfig(BaseModel):
    """When a check says "drift"."""

    model_config = ConfigDict(extra="forbid")

    embedding_method: Literal["model", "mmd"] = "model"
    """``model``: evidently's domain classifier (ROC AUC, p-value from the AUC's null
    distribution); ``mmd``: evidently's MMD² with a fixed threshold (no p-value)."""
    embedding_alpha: float = Field(default=1e-4, gt=0, lt=1)
    mmd_threshold: float = Field(default=0.015, gt=0)
    pca_components: int | None = Field(default=None, ge=2, le=384)
    metadata_alpha: float = Field(default=1e-4, gt=0, lt=1)
    """Family-wise: each feature is tested at ``metadata_alpha / n_features`` (Bonferroni)."""
    consecutive: int = Field(default=2, ge=1, le=20)
    """A drift is declared after this many consecutive positive checks."""
    min_category_count: int = Field(default=10, ge=1)
    """Categories rarer than this (reference + current) are pooled before the chi-square test."""
    min_valid_fraction: float = Field(default=0.5, gt=0, le=1)
    """An embedding target is checked only if this share of its window has valid embeddings."""


class DriftConfig(BaseModel):
    """Everything the drift monitor needs; ``apps`` holds per-app overrides (same fields)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    targets: list[TargetName] = Field(default_factory=lambda: list(TARGETS))
    windows: WindowConfig = Field(default_factory=WindowConfig)
    thresholds: ThresholdConfig = Field(default_factory=ThresholdConfig)
    numeric_features: list[str] = Field(default_factory=lambda: list(DEFAULT_NUMERIC))
    categorical_features: list[str] = Field(default_factory=lambda: list(DEFAULT_CATEGORICAL))
    group_by: list[str] = Field(default_factory=list)
    """Extra keys tracked besides (app, model): ``route``, ``environment``, ``tenant`` or
    ``tag:<name>``; each value gets its own windows (``route=chat``)."""
    embedding_dim: int = Field(default=384, ge=2)
    max_keys: int = Field(default=1000, ge=1)
    """Bound on tracked keys; events of further keys are counted and not tracked."""
    snippet_chars: int = Field(default=200, ge=20, le=4000)
    reference_snippet_chars: int = Field(default=120, ge=0, le=4000)
    """Text kept per reference event to name the terms that drifted (0: keep none, no terms)."""
    n_examples: int = Field(default=3, ge=0, le=20)
    emit: Literal["all", "drifted"] = "all"
    """``all``: one record per target per check; ``drifted``: only drifted ones."""
    reports_dir: Path | None = None
    """Where evidently HTML reports of detected drifts go; None disables them."""
    report_min_interval_s: float = Field(default=3600.0, ge=0)
    max_pending_reports: int = Field(default=4, ge=1)
    apps: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-app overrides, e.g. ``{"search": {"thresholds": {"embedding_alpha": 1e-6}}}``."""
    _resolved: dict[str, DriftConfig] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_apps(self) -> DriftConfig:
        for app, override in self.apps.items():
            if "apps" in override:
                raise ValueError(f"apps.{app}: nested 'apps' is not allowed")
            _merge_validate(self, override, app)
        if set(self.numeric_features) & set(self.categorical_features):
            raise ValueError("a feature cannot be both numeric and categorical")
        return self

    def for_app(self, app: str) -> DriftConfig:
        """The effective configuration for ``app`` (base merged with its override)."""
        if app not in self.apps:
            return self
        cache = self._resolved
        if app not in cache:
            cache[app] = _merge_validate(self, self.apps[app], app)
        return cache[app]

    @classmethod
    def build(cls, data: dict[str, Any] | None = None, **kwargs: Any) -> DriftConfig:
        """Validate a mapping (e.g. a YAML section); raises :class:`ConfigError` naming fields."""
        try:
            return cls.model_validate({**(data or {}), **kwargs})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
            )
            raise ConfigError(f"invalid drift config: {problems}") from None


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _merge_validate(base: DriftConfig, override: dict[str, Any], app: str) -> DriftConfig:
    merged = _deep_merge(base.model_dump(exclude={"apps"}, exclude_unset=False), override)
    try:
        return DriftConfig.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"apps.{app}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ValueError(problems) from None
