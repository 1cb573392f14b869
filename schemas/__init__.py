"""Versioned record models, their JSON Schemas (``jsonschema/``) and ClickHouse migrations
(``clickhouse/``)."""

from lightkeeper.schemas.codec import decode, decode_event, encode, encode_event, validate
from lightkeeper.schemas.events import (
    EVENT_SCHEMA_VERSION,
    CaptureSource,
    ContextDocument,
    LLMCallEvent,
    Message,
    Output,
    RequestParams,
    ToolCall,
    Usage,
)
from lightkeeper.schemas.records import (
    AlertRecord,
    AlertState,
    AnomalyRecord,
    DeliveryStatus,
    Detector,
    DriftRecord,
    ScoreRecord,
    Severity,
    WindowBounds,
)

__all__ = [
    "EVENT_SCHEMA_VERSION",
    "AlertRecord",
    "AlertState",
    "AnomalyRecord",
    "CaptureSource",
    "ContextDocument",
    "DeliveryStatus",
    "Detector",
    "DriftRecord",
    "LLMCallEvent",
    "Message",
    "Output",
    "RequestParams",
    "ScoreRecord",
    "Severity",
    "ToolCall",
    "Usage",
    "WindowBounds",
    "decode",
    "decode_event",
    "encode",
    "encode_event",
    "validate",
]
