"""OTLP/HTTP trace receiver (``POST /v1/traces``, protobuf or JSON).

GenAI spans (any ``gen_ai.*`` or OpenInference ``llm.*`` attribute) become events with
``source=otlp``; other spans are ignored (counted in
``lightkeeper_agent_otlp_spans_total{outcome="ignored"}``). ``service.name`` of the resource
is the event's ``app``; span start/end give the timing; an error status gives ``error_type``
(``error.type`` attribute, else ``"error"``). Spans that cannot be turned into a valid event
(or that start before the store's retention) are reported as rejected in the OTLP
``partial_success`` answer. A GenAI span without content waits briefly for the log records that
carry it (``/v1/logs``, see :mod:`lightkeeper.agent.otlp_join`). Bodies may be gzip-compressed
(``Content-Encoding: gzip``, the OTel Collector's default); an invalid one is a ``400``.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from pydantic import ValidationError

from lightkeeper.agent.auth import check_token
from lightkeeper.agent.events import retention_problem, scrub
from lightkeeper.agent.feedback import otlp_feedback
from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.otlp_join import GenAIJoin
from lightkeeper.agent.otlp_map import is_genai, span_fields
from lightkeeper.agent.otlp_values import attributes
from lightkeeper.agent.recorder import Recorder
from lightkeeper.agent.request_body import BodyError, read_body
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.schemas.events import CaptureSource, LLMCallEvent

log = logging.getLogger(__name__)


_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
_CONTAINERS = (
    ("resourceSpans", "resource_spans", "scopeSpans", "scope_spans", "spans"),
    ("resourceLogs", "resource_logs", "scopeLogs", "scope_logs", "logRecords", "log_records"),
)


def _items(doc: Any) -> Iterator[dict[str, Any]]:
    """The spans and log records of an OTLP/JSON document."""
    if not isinstance(doc, dict):
        return
    for outer, outer_snake, inner, inner_snake, *leaves in _CONTAINERS:
        for resource in doc.get(outer, doc.get(outer_snake, [])) or []:
            if not isinstance(resource, dict):
                continue
            for scope in resource.get(inner, resource.get(inner_snake, [])) or []:
                if not isinstance(scope, dict):
                    continue
                for leaf in leaves:
                    for item in scope.get(leaf, []) or []:
                        if isinstance(item, dict):
                            yield item


def _hex_ids_to_base64(doc: Any) -> Any:
    """OTLP/JSON encodes trace and span ids as hex, protobuf's JSON mapping expects base64."""
    for item in _items(doc):
        for key in _ID_KEYS:
            value = item.get(key)
            if isinstance(value, str) and value and len(value) in (16, 32):
                with contextlib.suppress(ValueError):
                    item[key] = base64.b64encode(bytes.fromhex(value)).decode()
    return doc


async def accept_export(
    request: web.Request, settings: AgentSettings, ready: bool, message: Message
) -> bool | web.Response:
    """The checks every OTLP export goes through: the ingest token, a readable body (parsed into
    ``message``) and room for the events. Returns whether the body was JSON, or the refusal."""
    check_token(request, settings)
    try:
        is_json = await parse_request(request, message)
    except BodyError as exc:
        return exc.response(exc.message.encode(), "text/plain")
    if not ready:
        return web.Response(status=503, headers={"Retry-After": "5"}, text="event buffer and spool are full")
    return is_json


async def parse_request(request: web.Request, message: Message) -> bool:
    """Read an OTLP/HTTP body (protobuf or JSON, maybe gzip) into ``message``; returns whether
    it was JSON. Raises :class:`BodyError` (400/415) with the reason."""
    body = await read_body(request)
    is_json = "json" in request.content_type
    try:
        if is_json:
            json_format.ParseDict(_hex_ids_to_base64(orjson.loads(body)), message, ignore_unknown_fields=True)
        else:
            message.ParseFromString(body)
    except (
        DecodeError,
        json_format.ParseError,
        ValueError,
        TypeError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise BodyError(400, f"not a valid OTLP {type(message).__name__}: {exc}") from None
    return is_json


def otlp_response(resp: Message, is_json: bool) -> web.Response:
    if is_json:
        return web.Response(body=json_format.MessageToJson(resp).encode(), content_type="application/json")
    return web.Response(body=resp.SerializeToString(), content_type="application/x-protobuf")


def span_to_event(span: Span, resource: dict[str, Any], settings: AgentSettings) -> LLMCallEvent | None:
    """The event of a GenAI span; None for other spans. Raises ValidationError on bad data."""
    attrs = attributes(span.attributes)
    if not is_genai(attrs):
        return None
    events = [(e.name, attributes(e.attributes)) for e in span.events]
    data = span_fields(attrs, events)
    start = span.start_time_unix_nano
    end = span.end_time_unix_nano
    data.update(
        source=CaptureSource.OTLP,
        app=str(resource.get("service.name") or settings.app_name),
        environment=str(
            resource.get("deployment.environment.name")
            or resource.get("deployment.environment")
            or settings.environment
        ),
        trace_id=span.trace_id.hex() or None,
        span_id=span.span_id.hex() or None,
        start_time=datetime.fromtimestamp(start / 1e9, UTC),
        end_time=datetime.fromtimestamp(end / 1e9, UTC) if end >= start and end else None,
        metadata={"span_name": span.name},
    )
    if "release" not in data and resource.get("service.version"):
        data["release"] = str(resource["service.version"])
    if span.status.code == Status.STATUS_CODE_ERROR:
        data["error_type"] = str(attrs.get("error.type") or "error")
        data["error_message"] = span.status.message or None
    scrub(data, settings)
    event = LLMCallEvent.model_validate(data)
    problem = retention_problem(event, settings)
    if problem is not None:
        raise ValueError(problem)
    return event


def convert(
    req: ExportTraceServiceRequest, settings: AgentSettings
) -> tuple[list[LLMCallEvent], int, list[str]]:
    """Events, ignored span count and error messages of rejected spans."""
    events: list[LLMCallEvent] = []
    ignored = 0
    errors: list[str] = []
    for rs in req.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                try:
                    event = span_to_event(span, resource, settings)
                except (ValidationError, ValueError, TypeError) as exc:
                    errors.append(f"span {span.span_id.hex()} ({span.name}): {exc}".replace("\n", " ")[:500])
                    continue
                if event is None:
                    ignored += 1
                else:
                    events.append(event)
    return events, ignored, errors


class OTLPHandler:
    def __init__(
        self, settings: AgentSettings, recorder: Recorder, metrics: AgentMetrics, join: GenAIJoin
    ) -> None:
        self.settings = settings
        self.recorder = recorder
        self.metrics = metrics
        self.join = join

    async def __call__(self, request: web.Request) -> web.Response:
        req = ExportTraceServiceRequest()
        accepted = await accept_export(request, self.settings, self.recorder.sink.ready(), req)
        if isinstance(accepted, web.Response):
            return accepted
        is_json = accepted
        events, ignored, errors = convert(req, self.settings)
        feedback, feedback_errors = otlp_feedback(req, self.settings)
        errors += feedback_errors
        for event in events:
            self.join.add_span(event)
        for item in feedback:  # lightkeeper.feedback span events (see agent/feedback.py)
            self.recorder.sink.submit(item.target[1].encode(), item.encode())
        self.metrics.otlp_spans.labels("converted").inc(len(events))
        self.metrics.otlp_spans.labels("ignored").inc(ignored)
        self.metrics.otlp_spans.labels("invalid").inc(len(errors))
        resp = ExportTraceServiceResponse()
        if errors:
            resp.partial_success.rejected_spans = len(errors)
            resp.partial_success.error_message = "; ".join(errors[:10])
        return otlp_response(resp, is_json)
