"""The alert engine's persistent state: active alerts and incidents.

An *alert* is one rule for one ``group_by`` value set (its ``dedup_key`` is stable: a hash of
the rule name and those labels). An *incident* gathers the firing alerts of one rule that
agree on the rule's ``notify_by`` labels; notifications are per incident, so one incident on
many keys sends one message, and its ``key`` is the PagerDuty ``dedup_key``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from pydantic import BaseModel, Field

from lightkeeper.alerts.notification import AlertItem


def dedup_key(rule: str, labels: dict[str, str]) -> str:
    """Stable key of a rule and a label set: ``lk-<rule>-<16 hex>`` (at most ~150 chars)."""
    canon = json.dumps([rule, sorted(labels.items())], separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canon.encode()).hexdigest()[:16]
    return f"lk-{rule[:128]}-{digest}"


class ActiveAlert(BaseModel):
    """One rule + group that is pending or firing."""

    alert_id: str
    rule: str
    dedup_key: str
    incident_key: str
    group_labels: dict[str, str]
    labels: dict[str, str]
    state: str = "pending"
    started_at: datetime
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    value: float | None = None
    top: list[tuple[dict[str, str], float]] = Field(default_factory=list)

    def item(self) -> AlertItem:
        return AlertItem(
            alert_id=self.alert_id,
            dedup_key=self.dedup_key,
            labels=self.labels,
            value=self.value,
            state=self.state,
            started_at=self.fired_at or self.started_at,
            resolved_at=self.resolved_at,
            top=self.top,
        )


class Incident(BaseModel):
    """The notification unit: a rule's firing alerts sharing the ``notify_by`` labels."""

    key: str
    rule: str
    labels: dict[str, str]
    members: list[str] = Field(default_factory=list)
    """dedup keys of the firing alerts."""
    resolved: list[AlertItem] = Field(default_factory=list)
    """Alerts that resolved since the last notification (reported in the next one)."""
    opened_at: datetime
    notify_at: datetime
    notified: bool = False
    """A firing notification went out (not silenced): a resolve must follow."""
    silenced_seq: int = -1
    """``seq`` at which a silenced notification was recorded (not repeated every tick)."""
    last_notified_at: datetime | None = None
    dirty: bool = False
    """Membership changed since the last notification."""
    seq: int = 0
