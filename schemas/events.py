"""The LLM call event: the unit of everything Lightkeeper records.

Field names follow the OpenTelemetry GenAI semantic conventions where they exist, with the
``gen_ai.`` prefix dropped and dots turned into underscores or nesting:

==============================  ===========================================
this model                      OpenTelemetry attribute
==============================  ===========================================
provider_name                   gen_ai.provider.name
operation_name                  gen_ai.operation.name
request_model                   gen_ai.request.model
response_model                  gen_ai.response.model
response_id                     gen_ai.response.id
finish_reasons                  gen_ai.response.finish_reasons
request.temperature, ...        gen_ai.request.temperature, .max_tokens, .top_p, .top_k,
                                .frequency_penalty, .presence_penalty, .stop_sequences,
                                .seed, .choice.count
usage.input_tokens              gen_ai.usage.input_tokens
usage.output_tokens             gen_ai.usage.output_tokens
usage.cache_read_input_tokens   gen_ai.usage.cache_read.input_tokens
usage.cache_creation_input_...  gen_ai.usage.cache_creation.input_tokens
usage.reasoning_output_tokens   gen_ai.usage.reasoning.output_tokens
input_messages                  gen_ai.input.messages
output                          gen_ai.output.messages (text and tool calls)
app                             service.name
error_type                      error.type
http_status                     http.response.status_code
trace_id / span_id              the span context
==============================  ===========================================

Unknown top-level fields are kept (``extra="allow"``) so an older consumer passes newer
producers' fields through unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lightkeeper.ids import uuid7_str

EVENT_SCHEMA_VERSION = 1

UINT32_MAX = 2**32 - 1
"""Token counts and ``max_tokens`` are stored as UInt32."""

STORE_TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
STORE_TIME_MAX = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)
"""``start_time``/``end_time`` must lie in ClickHouse's ``DateTime`` range: the events TTL and the
per-minute rollup convert them to ``DateTime``, which wraps around outside it (a row would be
deleted on arrival or land in a wrong minute)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class CaptureSource(StrEnum):
    PROXY = "proxy"
    OTLP = "otlp"
    INGEST = "ingest"
    SDK = "sdk"
    DEMO = "demo"


class _Part(BaseModel):
    """Nested parts keep unknown keys too (forward compatible)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RequestParams(_Part):
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, ge=0, le=UINT32_MAX)
    top_p: float | None = None
    top_k: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop_sequences: list[str] | None = None
    seed: int | None = None
    choice_count: int | None = Field(default=None, ge=0, le=65535)


class Usage(_Part):
    input_tokens: int | None = Field(default=None, ge=0, le=UINT32_MAX)
    output_tokens: int | None = Field(default=None, ge=0, le=UINT32_MAX)
    cache_read_input_tokens: int | None = Field(default=None, ge=0, le=UINT32_MAX)
    cache_creation_input_tokens: int | None = Field(default=None, ge=0, le=UINT32_MAX)
    reasoning_output_tokens: int | None = Field(default=None, ge=0, le=UINT32_MAX)
    estimated: bool = False
    """True when counts were computed locally because the provider reported none."""


class ToolCall(_Part):
    id: str | None = None
    name: str
    arguments: str | None = None
    """Arguments as the provider sent them (usually a JSON string)."""


class Message(_Part):
    role: str
    content: str | None = None
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)


class Output(_Part):
    text: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)


class ContextDocument(_Part):
    """A document the application gave the model as context (RAG)."""

    text: str
    id: str | None = None
    source: str | None = None
    score: float | None = None


class LLMCallEvent(BaseModel):
    """One LLM call (request and response) as captured by the agent or sent by a producer."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, validate_assignment=False)

    schema_version: int = Field(default=EVENT_SCHEMA_VERSION, ge=1)
    event_id: str = Field(default_factory=uuid7_str, min_length=1, max_length=128)

    # who and where
    app: str = Field(default="default", min_length=1, max_length=256)
    environment: str = Field(default="dev", max_length=128)
    tenant: str | None = Field(default=None, max_length=256)
    user_id: str | None = Field(default=None, max_length=512)
    session_id: str | None = Field(default=None, max_length=512)
    trace_id: str | None = Field(default=None, max_length=128)
    span_id: str | None = Field(default=None, max_length=128)
    route: str | None = Field(default=None, max_length=256)
    source: CaptureSource = CaptureSource.INGEST

    # what (OpenTelemetry GenAI)
    provider_name: str = Field(default="unknown", max_length=128)
    operation_name: str = Field(default="chat", max_length=64)
    request_model: str | None = Field(default=None, max_length=256)
    response_model: str | None = Field(default=None, max_length=256)
    response_id: str | None = Field(default=None, max_length=256)
    request: RequestParams = Field(default_factory=RequestParams)
    usage: Usage = Field(default_factory=Usage)
    finish_reasons: list[str] = Field(default_factory=list)

    # when
    start_time: datetime = Field(default_factory=utcnow)
    end_time: datetime | None = None
    duration_ms: float | None = Field(default=None, ge=0)
    time_to_first_token_ms: float | None = Field(default=None, ge=0)
    streaming: bool = False

    # outcome
    http_status: int | None = Field(default=None, ge=0, le=999)
    error_type: str | None = Field(default=None, max_length=256)
    error_message: str | None = None

    # content
    input_messages: list[Message] = Field(default_factory=list)
    output: Output = Field(default_factory=Output)
    context_documents: list[ContextDocument] | None = None

    # labels
    tags: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    # what the capture did to the content
    truncated: bool = False
    redacted: bool = False
    redaction_types: list[str] = Field(default_factory=list)
    body_sampled: bool = True
    """False when the body was left out by per-route sampling (metadata is always kept)."""

    @field_validator("start_time", "end_time")
    @classmethod
    def _aware_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"{value.isoformat()} cannot be converted to UTC") from None
        if not STORE_TIME_MIN <= value <= STORE_TIME_MAX:
            raise ValueError(
                f"{value.isoformat()} is outside the range the store can keep "
                f"({STORE_TIME_MIN.isoformat()} to {STORE_TIME_MAX.isoformat()})"
            )
        return value

    @model_validator(mode="after")
    def _derive_timing(self) -> LLMCallEvent:
        if self.end_time is not None:
            if "start_time" not in self.model_fields_set:
                raise ValueError("start_time is missing (it is required when end_time is given)")
            if self.end_time < self.start_time:
                raise ValueError("end_time is before start_time")
            if self.duration_ms is None:
                self.duration_ms = (self.end_time - self.start_time).total_seconds() * 1000.0
        return self

    # convenience accessors used by processors ------------------------------------------------
    @property
    def model(self) -> str:
        """The model that served the call (response model, else the requested one)."""
        return self.response_model or self.request_model or "unknown"

    @property
    def is_error(self) -> bool:
        return self.error_type is not None or (self.http_status is not None and self.http_status >= 400)

    def prompt_text(self) -> str:
        """The user-visible prompt: the last user message, else all message contents."""
        for message in reversed(self.input_messages):
            if message.role == "user" and message.content:
                return message.content
        return "\n".join(m.content for m in self.input_messages if m.content)

    def response_text(self) -> str:
        return self.output.text or ""
