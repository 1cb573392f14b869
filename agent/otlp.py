"""OTLP/HTTP trace receiver (``POST /v1/traces``, protobuf or JSON).

GenAI spans (any ``gen_ai.*`` or OpenInference ``llm.*`` attribute) become events with
``source=otlp``; other spans are ignored (counted in
``lightkeeper_agent_otlp_spans_total{outcome="ignored"}``). ``service.name`` of the resource
is the event's ``app``; span start/end give the timing; an error status gives ``error_type``
(``error.type`` attribute, else ``"error"``). Spans that cannot be turned into a valid event
are reported as rejected in the OTLP ``partial_success`` answer.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from pydantic import ValidationError

from lightkeeper.agent.auth import check_token
from lightkeeper.agent.events import scrub
from lightkeeper.agent.feedback import otlp_feedback
from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.otlp_map import is_genai, span_fields
from lightkeeper.agent.recorder import Recorder
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.schemas.events import CaptureSource, LLMCallEvent

log = logging.getLogger(__name__)


def any_value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attributes(v.kvlist_value.values)
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs if isinstance(kv, KeyValue)}


def _hex_ids_to_base64(doc: Any) -> Any:
    """OTLP/JSON encodes trace and span ids as hex, protobuf's JSON mapping expects base64."""
    for rs in doc.get("resourceSpans", doc.get("resource_spans", [])) or []:
        for ss in rs.get("scopeSpans", rs.get("scope_spans", [])) or []:
            for span in ss.get("spans", []) or []:
                for key in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"):
                    value = span.get(key)
                    if isinstance(value, str) and value and len(value) in (16, 32):
                        with contextlib.suppress(ValueError):
                            span[key] = base64.b64encode(bytes.fromhex(value)).decode()
    return doc


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
    return LLMCallEvent.model_validate(data)


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
    def __init__(self, settings: AgentSettings, recorder: Recorder, metrics: AgentMetrics) -> None:
        self.settings = settings
        self.recorder = recorder
        self.metrics = metrics

    async def __call__(self, request: web.Request) -> web.Response:
        check_token(request, self.settings)
        ctype = request.content_type
        body = await request.read()
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            import gzip

            try:
                body = gzip.decompress(body)
            except (OSError, EOFError):
                return web.Response(status=400, text="body is not valid gzip")
        req = ExportTraceServiceRequest()
        is_json = "json" in ctype
        try:
            if is_json:
                json_format.ParseDict(_hex_ids_to_base64(orjson.loads(body)), req, ignore_unknown_fields=True)
            else:
                req.ParseFromString(body)
        except (DecodeError, json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
            return web.Response(status=400, text=f"not a valid OTLP ExportTraceServiceRequest: {exc}")
        if not self.recorder.sink.ready():
            return web.Response(
                status=503, headers={"Retry-After": "5"}, text="event buffer and spool are full"
            )
        events, ignored, errors = convert(req, self.settings)
        feedback, feedback_errors = otlp_feedback(req, self.settings)
        errors += feedback_errors
        for event in events:
            self.recorder.publish(event)
        for item in feedback:  # lightkeeper.feedback span events (see agent/feedback.py)
            self.recorder.sink.submit(item.target[1].encode(), item.encode())
        self.metrics.otlp_spans.labels("converted").inc(len(events))
        self.metrics.otlp_spans.labels("ignored").inc(ignored)
        self.metrics.otlp_spans.labels("invalid").inc(len(errors))
        resp = ExportTraceServiceResponse()
        if errors:
            resp.partial_success.rejected_spans = len(errors)
            resp.partial_success.error_message = "; ".join(errors[:10])
        if is_json:
            return web.Response(
                body=json_format.MessageToJson(resp).encode(), content_type="application/json"
            )
        return web.Response(body=resp.SerializeToString(), content_type="application/x-protobuf")
