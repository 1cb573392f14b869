"""OTLP/HTTP logs receiver (``POST /v1/logs``, protobuf or JSON, maybe gzip).

GenAI instrumentations send the prompt and the completion as log records (events): the
``gen_ai.client.inference.operation.details`` event, or the per-message ``gen_ai.user.message``
/ ``gen_ai.system.message`` / ``gen_ai.assistant.message`` / ``gen_ai.tool.message`` /
``gen_ai.choice`` events. The event name is the record's ``event_name``, else its ``event.name``
attribute. Those records are joined to their span by trace and span id
(:mod:`lightkeeper.agent.otlp_join`); other records are counted ``ignored``; GenAI records
without a trace and span id are counted ``invalid`` and reported in ``partial_success``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.otlp import accept_export, otlp_response
from lightkeeper.agent.otlp_join import GenAIJoin, Key, LogRecordFields
from lightkeeper.agent.otlp_map import is_genai_log
from lightkeeper.agent.otlp_values import any_value, attributes
from lightkeeper.agent.recorder import Recorder
from lightkeeper.agent.settings import AgentSettings


def event_name(record: LogRecord, attrs: dict[str, Any]) -> str:
    name = record.event_name or attrs.get("event.name")
    return name if isinstance(name, str) else ""


def group_records(req: ExportLogsServiceRequest) -> tuple[dict[Key, list[LogRecordFields]], int, list[str]]:
    """GenAI records by (trace id, span id), the count of other records, and problems."""
    groups: dict[Key, list[LogRecordFields]] = {}
    ignored = 0
    problems: list[str] = []
    for resource_logs in req.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                attrs = attributes(record.attributes)
                name = event_name(record, attrs)
                if not is_genai_log(name):
                    ignored += 1
                    continue
                key = (record.trace_id.hex(), record.span_id.hex())
                if not all(key):
                    problems.append(f"{name} record without trace and span id: it cannot join a span")
                    continue
                body = any_value(record.body) if record.HasField("body") else None
                groups.setdefault(key, []).append((name, attrs, body))
    return groups, ignored, problems


class OTLPLogsHandler:
    def __init__(
        self, settings: AgentSettings, recorder: Recorder, metrics: AgentMetrics, join: GenAIJoin
    ) -> None:
        self.settings = settings
        self.recorder = recorder
        self.metrics = metrics
        self.join = join

    async def __call__(self, request: web.Request) -> web.Response:
        req = ExportLogsServiceRequest()
        accepted = await accept_export(request, self.settings, self.recorder.sink.ready(), req)
        if isinstance(accepted, web.Response):
            return accepted
        is_json = accepted
        groups, ignored, problems = group_records(req)
        for key, records in groups.items():
            self.join.add_logs(key, records)
        self.metrics.otlp_logs.labels("ignored").inc(ignored)
        self.metrics.otlp_logs.labels("invalid").inc(len(problems))
        resp = ExportLogsServiceResponse()
        if problems:
            resp.partial_success.rejected_log_records = len(problems)
            resp.partial_success.error_message = "; ".join(problems[:10])
        return otlp_response(resp, is_json)
