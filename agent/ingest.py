"""Direct ingest: ``POST /v1/events`` and ``POST /v1/context``.

``/v1/events`` takes a JSON array of events (or ``{"events": [...]}``), each an
:class:`~schemas.events.LLMCallEvent` object (``source`` defaults to ``ingest``). Every item
is validated on its own:

* all valid: ``200 {"accepted": n, "rejected": 0, "errors": []}``
* some invalid: ``207`` with ``errors: [{"index": i, "event_id": ..., "problems":
  [{"field": "usage.input_tokens", "message": "..."}]}]``; the valid items are accepted
* none valid (or the body is not JSON): ``400`` with the same shape.

Accepted items are scrubbed like proxied events and handed to the publisher (buffer, then
Kafka or the spool). When the publisher cannot take events safely the whole batch gets
``503`` and nothing is accepted, so a retry loses and duplicates nothing.

``/v1/context`` takes ``{"trace_id": ..., "documents": [...]}`` (see :mod:`lightkeeper.agent.context`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from lightkeeper.agent.auth import check_token
from lightkeeper.agent.context import ContextCache
from lightkeeper.agent.events import scrub_event
from lightkeeper.agent.metadata import normalize_documents
from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.recorder import Recorder
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.errors import SchemaError
from lightkeeper.schemas.codec import validate
from lightkeeper.schemas.events import LLMCallEvent

_CHUNK = 100


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def validate_items(
    items: list[Any], settings: AgentSettings
) -> tuple[list[LLMCallEvent], list[dict[str, Any]]]:
    """Valid (scrubbed) events and per-item error descriptions."""
    accepted: list[LLMCallEvent] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            item = {"source": "ingest", "environment": settings.environment, **item}
        try:
            event = validate(LLMCallEvent, item)
        except SchemaError as exc:
            errors.append(
                {
                    "index": index,
                    "event_id": item.get("event_id") if isinstance(item, dict) else None,
                    "problems": [{"field": f, "message": m} for f, m in exc.problems],
                }
            )
            continue
        accepted.append(scrub_event(event, settings))
    return accepted, errors


class IngestHandlers:
    def __init__(
        self, settings: AgentSettings, recorder: Recorder, metrics: AgentMetrics, contexts: ContextCache
    ) -> None:
        self.settings = settings
        self.recorder = recorder
        self.metrics = metrics
        self.contexts = contexts
        self._gate = asyncio.Semaphore(1)

    async def events(self, request: web.Request) -> web.Response:
        check_token(request, self.settings)
        raw = await request.read()
        # One batch is parsed and validated at a time: the work is CPU-bound anyway, and
        # concurrent large batches would multiply the parsed objects held in memory.
        async with self._gate:
            return await self._events(raw)

    async def _events(self, raw: bytes) -> web.Response:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _json(
                400,
                {
                    "accepted": 0,
                    "rejected": 0,
                    "errors": [
                        {"index": None, "problems": [{"field": "<body>", "message": f"not JSON: {exc}"}]}
                    ],
                },
            )
        items = body.get("events") if isinstance(body, dict) else body
        if not isinstance(items, list):
            return _json(
                400,
                {
                    "accepted": 0,
                    "rejected": 0,
                    "errors": [
                        {
                            "index": None,
                            "problems": [
                                {
                                    "field": "<body>",
                                    "message": 'expected a JSON array of events or {"events": [...]}',
                                }
                            ],
                        }
                    ],
                },
            )
        if not self.recorder.sink.ready():
            return _json(503, {"error": "event buffer and spool cannot take events now; retry later"})
        accepted: list[LLMCallEvent] = []
        errors: list[dict[str, Any]] = []
        for start in range(0, len(items), _CHUNK):
            # validate in slices on the loop (no thread: proxied calls keep their turn, memory stays flat)
            ok, bad = validate_items(items[start : start + _CHUNK], self.settings)
            accepted += ok
            errors += [{**e, "index": e["index"] + start} for e in bad]
            await asyncio.sleep(0)
        for event in accepted:
            self.recorder.publish(event)
        self.metrics.ingest_items.labels("accepted").inc(len(accepted))
        self.metrics.ingest_items.labels("rejected").inc(len(errors))
        status = 200 if not errors else (207 if accepted else 400)
        return _json(status, {"accepted": len(accepted), "rejected": len(errors), "errors": errors})

    async def context(self, request: web.Request) -> web.Response:
        check_token(request, self.settings)
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return _json(400, {"error": f"not JSON: {exc}"})
        if not isinstance(body, dict) or not isinstance(body.get("trace_id"), str) or not body["trace_id"]:
            return _json(400, {"error": 'expected {"trace_id": "...", "documents": [...]}'})
        docs = normalize_documents(body.get("documents"))
        if docs is None:
            return _json(400, {"error": "documents: expected a list of strings or {text, id, source, score}"})
        self.contexts.put(body["trace_id"], docs)
        late = self.recorder.attach_late(body["trace_id"], docs)
        return _json(
            200, {"trace_id": body["trace_id"], "documents": len(docs), "attached_to_earlier_call": late}
        )
