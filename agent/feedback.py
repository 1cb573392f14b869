"""``POST /v1/feedback``: user feedback on an answer (thumbs or a rating, a comment).

Body: one object or a JSON array of objects (see :class:`lightkeeper.schemas.feedback.FeedbackRecord`)::

    {"event_id": "...", "score": "down", "comment": "wrong order number", "user_id": "u-1"}
    {"trace_id": "...", "span_id": "...", "score": 4, "scale": [1, 5]}
    {"session_id": "...", "score": true}

Every item is validated; if any is invalid, nothing is accepted and the answer is ``400`` with
the reasons per item (``index``, ``problems``), so a corrected retry neither loses nor duplicates
anything. Comments are scrubbed like prompts (secrets, PII). Accepted items go the same way as
events (buffer, Kafka or the spool): ``202 {"accepted": n, "feedback_ids": [...]}``; ``503``
when the buffer and spool cannot take them. Feedback about an event not stored yet is kept and
joined when the event arrives (``feedback_events.unmatched``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from lightkeeper.agent.auth import check_token
from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.redaction import Redactor
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.errors import BackpressureError
from lightkeeper.schemas.feedback import FeedbackRecord

MAX_ITEMS = 1000
#: Fields only Lightkeeper sets (a client cannot claim its comment was already redacted).
_INTERNAL = ("record", "redacted", "redaction_types")


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def parse_feedback(
    items: list[Any], settings: AgentSettings, *, keep_source: bool = False
) -> tuple[list[FeedbackRecord], list[dict[str, Any]]]:
    """Valid, redacted records and per-item problems (``source`` is ``api`` unless
    ``keep_source``: OTLP items say ``otlp``)."""
    records: list[FeedbackRecord] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(
                {"index": index, "problems": [{"field": "<item>", "message": "expected an object"}]}
            )
            continue
        internal = _INTERNAL if keep_source else (*_INTERNAL, "source")
        item = {k: v for k, v in item.items() if k not in internal}
        try:
            record = FeedbackRecord.model_validate(item)
        except ValidationError as exc:
            problems = [
                {"field": ".".join(str(p) for p in e["loc"]) or "<item>", "message": e["msg"]}
                for e in exc.errors(include_url=False)
            ]
            errors.append({"index": index, "problems": problems})
            continue
        if record.comment:
            redact = Redactor(pii=settings.pii_redaction, pii_types=settings.pii_types)
            comment = redact(record.comment)
            if redact.types:
                record = record.model_copy(
                    update={"comment": comment, "redacted": True, "redaction_types": sorted(redact.types)}
                )
        records.append(record)
    return records, errors


class FeedbackHandler:
    def __init__(self, settings: AgentSettings, sink: Any, metrics: AgentMetrics) -> None:
        self.settings = settings
        self.sink = sink
        self.metrics = metrics

    async def __call__(self, request: web.Request) -> web.Response:
        check_token(request, self.settings)
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return _json(400, {"error": f"not JSON: {exc}"})
        items = body if isinstance(body, list) else [body]
        if not items or len(items) > MAX_ITEMS:
            return _json(400, {"error": f"expected one feedback object or an array of 1 to {MAX_ITEMS}"})
        records, errors = parse_feedback(items, self.settings)
        if errors:
            return _json(400, {"accepted": 0, "rejected": len(errors), "errors": errors})
        if not self.sink.ready():
            return _json(503, {"error": "event buffer and spool cannot take feedback now; retry later"})
        try:
            for record in records:
                self.sink.submit(record.target[1].encode(), record.encode())
        except BackpressureError as exc:
            return _json(503, {"error": f"event buffer full: {exc}; retry later"})
        self.metrics.ingest_items.labels("accepted").inc(len(records))
        return _json(202, {"accepted": len(records), "feedback_ids": [r.feedback_id for r in records]})


#: Span event carrying feedback over OTLP; its span is the call the feedback is about.
OTLP_FEEDBACK_EVENT = "lightkeeper.feedback"
_OTLP_PREFIX = "lightkeeper.feedback."


def otlp_feedback(req: Any, settings: AgentSettings) -> tuple[list[FeedbackRecord], list[str]]:
    """Feedback items from ``lightkeeper.feedback`` span events of an OTLP export request:
    attributes ``lightkeeper.feedback.score`` ("up"/"down", a bool or a number), optional
    ``.scale_min``/``.scale_max``, ``.comment``, ``.id``, ``.event_id``, and ``enduser.id`` /
    ``session.id``. The target is the span (trace id + span id) unless ``.event_id`` is set.
    Returns the valid items (comments redacted) and one error message per invalid item."""
    from lightkeeper.agent.otlp_values import attributes

    items: list[dict[str, Any]] = []
    for rs in req.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                for event in span.events:
                    if event.name != OTLP_FEEDBACK_EVENT:
                        continue
                    attrs = attributes(event.attributes)
                    item: dict[str, Any] = {
                        "app": str(resource.get("service.name") or settings.app_name),
                        "trace_id": span.trace_id.hex() or None,
                        "span_id": span.span_id.hex() or None,
                        "score": attrs.get(_OTLP_PREFIX + "score"),
                        "comment": attrs.get(_OTLP_PREFIX + "comment"),
                        "user_id": attrs.get("enduser.id") or attrs.get("user.id"),
                        "session_id": attrs.get("session.id"),
                        "source": "otlp",
                    }
                    if attrs.get(_OTLP_PREFIX + "event_id"):
                        item.update(
                            event_id=str(attrs[_OTLP_PREFIX + "event_id"]), trace_id=None, span_id=None
                        )
                    if attrs.get(_OTLP_PREFIX + "id"):
                        item["feedback_id"] = str(attrs[_OTLP_PREFIX + "id"])
                    low, high = attrs.get(_OTLP_PREFIX + "scale_min"), attrs.get(_OTLP_PREFIX + "scale_max")
                    if low is not None and high is not None:
                        item["scale"] = [low, high]
                    if event.time_unix_nano:
                        item["created_at"] = datetime.fromtimestamp(event.time_unix_nano / 1e9, UTC)
                    items.append({k: v for k, v in item.items() if v is not None})
    records, problems = parse_feedback(items, settings, keep_source=True)
    errors = [
        f"feedback event {p['index']}: " + "; ".join(f"{x['field']}: {x['message']}" for x in p["problems"])
        for p in problems
    ]
    return records, errors
