"""The notification: what every channel renders, and what the outbox persists."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from lightkeeper.schemas.events import utcnow
from lightkeeper.schemas.records import Severity

NotificationKind = Literal["firing", "renotify", "update", "resolved", "test"]


class AlertItem(BaseModel):
    """One alert (rule + group) inside a notification."""

    alert_id: str
    dedup_key: str
    labels: dict[str, str]
    value: float | None = None
    state: str = "firing"
    started_at: datetime
    resolved_at: datetime | None = None
    top: list[tuple[dict[str, str], float]] = Field(default_factory=list)


class Notification(BaseModel):
    """One message about one incident (a rule and its ``notify_by`` labels).

    ``key`` is the idempotency key: unique per state change, so enqueuing it twice is a no-op
    and receivers can drop duplicates. ``incident_key`` is stable over the incident's life and
    is PagerDuty's ``dedup_key`` (trigger and resolve use the same one).
    """

    key: str
    kind: NotificationKind
    incident_key: str
    rule: str
    severity: Severity = Severity.MEDIUM
    summary: str = ""
    description: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    metric: str = ""
    aggregate: str = ""
    window_s: float = 0.0
    op: str = ">"
    threshold: float | None = None
    value: float | None = None
    alerts: list[AlertItem] = Field(default_factory=list)
    sql: str = ""
    event_time: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def firing(self) -> list[AlertItem]:
        return [a for a in self.alerts if a.state == "firing"]

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes) -> Notification:
        return cls.model_validate_json(data)

    def webhook_body(self) -> dict[str, Any]:
        """The generic webhook's JSON document."""
        return self.model_dump(mode="json")
