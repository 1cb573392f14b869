"""PagerDuty Events API v2 over httpx: trigger and resolve with the incident's dedup key.

(The ``pagerduty`` package refuses non-https base URLs, which rules out local test servers.)
"""

from __future__ import annotations

from typing import Any

from lightkeeper.alerts.delivery.base import check_status
from lightkeeper.alerts.notification import Notification
from lightkeeper.errors import DeliveryError
from lightkeeper.schemas.records import Severity

#: Lightkeeper severity -> PagerDuty payload.severity.
SEVERITY_MAP = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "info",
    Severity.INFO: "info",
}


def event_body(note: Notification, routing_key: str, source: str = "lightkeeper") -> dict[str, Any]:
    """The Events v2 document: ``resolve`` for resolved notifications, else ``trigger``."""
    if note.kind == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": note.incident_key}
    details: dict[str, Any] = {
        "rule": note.rule,
        "value": note.value,
        "threshold": note.threshold,
        "condition": f"{note.aggregate}({note.metric}) {note.op} {note.threshold}",
        "window_s": note.window_s,
        "labels": note.labels,
        "alerts": [
            {"dedup_key": a.dedup_key, "labels": a.labels, "value": a.value, "state": a.state}
            for a in note.alerts[:20]
        ],
        "sql": note.sql,
        "kind": note.kind,
    }
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": note.incident_key,
        "payload": {
            "summary": note.summary[:1024] or note.rule,
            "source": note.labels.get("app", source)[:255],
            "severity": SEVERITY_MAP.get(note.severity, "warning"),
            "timestamp": note.event_time.isoformat(),
            "component": note.labels.get("model", "")[:255] or None,
            "group": note.labels.get("app"),
            "class": note.metric or None,
            "custom_details": details,
        },
        "client": "Lightkeeper",
    }


class PagerDutyChannel:
    """POST ``{base_url}/v2/enqueue``; 202 = accepted."""

    def __init__(
        self,
        name: str,
        routing_key: str,
        *,
        base_url: str = "https://events.pagerduty.com",
        timeout_s: float = 10.0,
    ) -> None:
        import httpx

        self.name = name
        self.routing_key = routing_key
        self.url = base_url.rstrip("/") + "/v2/enqueue"
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def send(self, note: Notification) -> None:
        body = event_body(note, self.routing_key)
        try:
            resp = await self._client.post(
                self.url, json=body, headers={"X-Lightkeeper-Idempotency-Key": note.key}
            )
        except Exception as exc:
            raise DeliveryError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        check_status(self.name, resp.status_code, dict(resp.headers), resp.text)

    async def aclose(self) -> None:
        await self._client.aclose()
