"""Derived records: scores, drift results, anomalies and alerts.

Each is versioned by ``schema_version`` and keeps unknown fields, like the event.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lightkeeper.ids import uuid7_str
from lightkeeper.schemas.events import utcnow

RECORD_SCHEMA_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_version: int = Field(default=RECORD_SCHEMA_VERSION, ge=1)


class Detector(StrEnum):
    TOXICITY_PROMPT = "toxicity_prompt"
    TOXICITY_RESPONSE = "toxicity_response"
    HALLUCINATION = "hallucination"
    INJECTION = "injection"
    INJECTION_CONTEXT = "injection_context"
    PII_PROMPT = "pii_prompt"
    PII_RESPONSE = "pii_response"


class ScoreRecord(_Record):
    """One detector's verdict on one event. ``score`` is NULL when the detector does not apply
    (e.g. hallucination without context) — never an invented value."""

    event_id: str
    detector: Detector
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    flagged: bool = False
    threshold: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    model_version: str = ""
    app: str = "default"
    environment: str = ""
    request_model: str | None = None
    event_time: datetime = Field(default_factory=utcnow)
    scored_at: datetime = Field(default_factory=utcnow)


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class WindowBounds(BaseModel):
    start: datetime
    end: datetime
    size: int = Field(ge=0)


class DriftRecord(_Record):
    drift_id: str = Field(default_factory=uuid7_str)
    app: str
    model: str
    key: str = ""
    """Extra grouping beyond (app, model), e.g. ``route=chat`` or ``tag:team=search``."""
    target: str
    """What drifted: ``prompt_embedding``, ``response_embedding`` or ``metadata:<feature>``."""
    method: str
    score: float
    threshold: float
    p_value: float | None = None
    drifted: bool
    reference: WindowBounds
    current: WindowBounds
    top_features: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    report_path: str | None = None
    detected_at: datetime = Field(default_factory=utcnow)


class AnomalyRecord(_Record):
    anomaly_id: str = Field(default_factory=uuid7_str)
    app: str
    model: str = ""
    user_id: str = ""
    metric: str
    window_start: datetime
    expected: float | None = None
    actual: float
    score: float
    severity: Severity = Severity.MEDIUM
    detector: str
    details: dict[str, Any] = Field(default_factory=dict)
    detected_at: datetime = Field(default_factory=utcnow)


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    SILENCED = "silenced"
    SKIPPED = "skipped"


class AlertRecord(_Record):
    alert_id: str = Field(default_factory=uuid7_str)
    rule: str
    dedup_key: str
    state: AlertState
    severity: Severity = Severity.MEDIUM
    labels: dict[str, str] = Field(default_factory=dict)
    value: float | None = None
    threshold: float | None = None
    summary: str = ""
    route: str = ""
    delivery_status: DeliveryStatus = DeliveryStatus.QUEUED
    attempts: int = 0
    last_error: str = ""
    started_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
