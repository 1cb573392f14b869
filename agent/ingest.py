"""Direct ingest: ``POST /v1/events`` and ``POST /v1/context``.

``/v1/events`` takes a JSON array of events (or ``{"events": [...]}``), each an
:class:`~schemas.events.LLMCallEvent` object (``source`` defaults to ``ingest``). Every item
is validated on its own:

* all valid: ``200 {"accepted": n, "rejected": 0, "errors": []}``
* some invalid: ``207`` with ``errors: [{"index": i, "event_id": ..., "problems":
  [{"field": "usage.input_tokens", "message": "..."}]}]``; the valid items are accepted
* none valid (or the body is not JSON): ``400`` with the same shape.

A ``start_time`` older than the store keeps events (``store.events_ttl_days``) or outside the
store's time range is refused with that reason: the store would drop such a row silently.
A string holding a lone UTF-16 surrogate (``"\ud800"``, valid JSON that Python's ``json.dumps``
writes) is kept with U+FFFD in place of the surrogate; the item is accepted and its
``metadata.capture_problems`` names each repaired field. Gzip (or deflate/br/zstd) bodies are
decoded; a body that is not valid in its ``Content-Encoding`` is a ``400``.

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
from lightkeeper.agent.events import retention_problem, scrub_event
from lightkeeper.agent.lenient_json import loads, replace_lone_surrogates
from lightkeeper.agent.metadata import normalize_documents
from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.recorder import Recorder
from lightkeeper.agent.request_body import BodyError, read_body
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.errors import SchemaError
from lightkeeper.schemas.codec import validate
from lightkeeper.schemas.events import LLMCallEvent

_CHUNK = 100
_MAX_REPAIRS_NOTED = 10


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _body_problem(message: str) -> dict[str, Any]:
    return {
        "accepted": 0,
        "rejected": 0,
        "errors": [{"index": None, "problems": [{"field": "<body>", "message": message}]}],
    }


def _body_error(status: int, message: str) -> web.Response:
    return _json(status, _body_problem(message))


def _item_error(index: int, item: Any, problems: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "index": index,
        "event_id": item.get("event_id") if isinstance(item, dict) else None,
        "problems": [{"field": f, "message": m} for f, m in problems],
    }


def validate_items(
    items: list[Any], settings: AgentSettings, repairs: dict[int, list[str]] | None = None
) -> tuple[list[LLMCallEvent], list[dict[str, Any]]]:
    """Valid (scrubbed) events and per-item error descriptions. ``repairs``: item index ->
    fields whose lone surrogates were replaced (recorded in ``metadata.capture_problems``)."""
    accepted: list[LLMCallEvent] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            item = {"source": "ingest", "environment": settings.environment, **item}
        try:
            event = validate(LLMCallEvent, item)
        except SchemaError as exc:
            errors.append(_item_error(index, item, exc.problems))
            continue
        problem = retention_problem(event, settings)
        if problem is not None:
            errors.append(_item_error(index, item, [("start_time", problem)]))
            continue
        fixed = (repairs or {}).get(index)
        if fixed:
            notes = [f"lone UTF-16 surrogate replaced by U+FFFD in {path}" for path in fixed]
            if len(notes) > _MAX_REPAIRS_NOTED:
                notes = [*notes[:_MAX_REPAIRS_NOTED], f"... and {len(notes) - _MAX_REPAIRS_NOTED} more"]
            previous = event.metadata.get("capture_problems")
            event.metadata["capture_problems"] = [*(previous if isinstance(previous, list) else []), *notes]
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
        try:
            raw = await read_body(request)
        except BodyError as exc:
            return exc.response(orjson.dumps(_body_problem(exc.message)), "application/json")
        # One batch is parsed and validated at a time: the work is CPU-bound anyway, and
        # concurrent large batches would multiply the parsed objects held in memory.
        async with self._gate:
            return await self._events(raw)

    async def _events(self, raw: bytes) -> web.Response:
        try:
            body, lenient = loads(raw)
        except ValueError as exc:
            return _body_error(400, f"not JSON: {exc}")
        items = body.get("events") if isinstance(body, dict) else body
        if not isinstance(items, list):
            return _body_error(400, 'expected a JSON array of events or {"events": [...]}')
        if not self.recorder.sink.ready():
            return _json(503, {"error": "event buffer and spool cannot take events now; retry later"})
        repairs: dict[int, list[str]] = {}
        if lenient:
            for index, item in enumerate(items):
                changed: list[str] = []
                items[index] = replace_lone_surrogates(item, "", changed)
                if changed:
                    repairs[index] = changed
        accepted: list[LLMCallEvent] = []
        errors: list[dict[str, Any]] = []
        for start in range(0, len(items), _CHUNK):
            # validate in slices on the loop (no thread: proxied calls keep their turn, memory stays flat)
            chunk_repairs = {i - start: r for i, r in repairs.items() if start <= i < start + _CHUNK}
            ok, bad = validate_items(items[start : start + _CHUNK], self.settings, chunk_repairs)
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
            body = orjson.loads(await read_body(request))
        except BodyError as exc:
            return exc.response(orjson.dumps({"error": exc.message}), "application/json")
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
