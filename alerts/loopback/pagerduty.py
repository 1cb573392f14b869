"""A loopback PagerDuty Events API v2 (``POST /v2/enqueue``) with incident bookkeeping.

It validates events like the real service (routing key, event_action, payload summary /
source / severity for triggers; 400 otherwise), answers 202, and keeps ``incidents``:
dedup_key -> ``"triggered"`` | ``"resolved"`` plus how many trigger events each received.
Failures are scripted as for every :class:`~lightkeeper.alerts.loopback.slack.LoopbackServer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from lightkeeper.alerts.loopback.slack import LoopbackServer

SEVERITIES = {"critical", "error", "warning", "info"}
PATH = "/v2/enqueue"


@dataclass
class PagerDutyLoopback(LoopbackServer):
    incidents: dict[str, str] = field(default_factory=dict)
    triggers: dict[str, int] = field(default_factory=dict)

    def routes(self) -> list[web.RouteDef]:
        return [web.post(PATH, self._enqueue)]

    def events(self) -> list[dict[str, Any]]:
        """Accepted event documents, in order."""
        return [r.json for r in self.accepted(PATH)]

    @staticmethod
    def _problems(body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["body must be a JSON object"]
        errors = []
        if not body.get("routing_key"):
            errors.append("routing_key is missing")
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("event_action must be trigger, acknowledge or resolve")
        if action in ("acknowledge", "resolve") and not body.get("dedup_key"):
            errors.append("dedup_key is required to acknowledge or resolve")
        if action == "trigger":
            payload = body.get("payload") or {}
            for key in ("summary", "source", "severity"):
                if not payload.get(key):
                    errors.append(f"payload.{key} is missing")
            if payload.get("severity") and payload["severity"] not in SEVERITIES:
                errors.append("payload.severity must be critical, error, warning or info")
        return errors

    async def _enqueue(self, request: web.Request) -> web.Response:
        rec, action = await self._record(request)
        if action.status == 429:
            return self._respond(request, rec, 429, {"status": "throttled"}, action.retry_after or 1)
        if action.status != 200:
            return self._respond(request, rec, action.status, {"status": "error"}, action.retry_after)
        problems = self._problems(rec.json)
        if problems:
            return self._respond(
                request,
                rec,
                400,
                {"status": "invalid event", "message": "Event object is invalid", "errors": problems},
            )
        body = rec.json
        dedup = body.get("dedup_key") or f"pd-{len(self.requests)}"
        resp = self._respond(
            request, rec, 202, {"status": "success", "message": "Event processed", "dedup_key": dedup}
        )
        if rec.accepted:
            if body["event_action"] == "trigger":
                self.triggers[dedup] = self.triggers.get(dedup, 0) + 1
                self.incidents[dedup] = "triggered"
            elif body["event_action"] == "resolve" and dedup in self.incidents:
                self.incidents[dedup] = "resolved"
        return resp
