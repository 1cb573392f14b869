"""Event (de)serialization speed for a realistic ~2 KB LLM call event.

Compares, in events per second:

* pydantic v2 ``model_validate_json`` / ``model_dump_json`` (what ``lightkeeper.schemas.codec`` uses);
* orjson parse + pydantic ``model_validate`` from a dict / ``model_dump`` + orjson;
* msgspec typed Structs mirroring the event (validating decode, encode);
* orjson alone on plain dicts (no validation at all: the floor).

    nice -n 10 python bench/schema_codec.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import orjson

from lightkeeper.schemas.codec import decode_event, encode_event
from lightkeeper.schemas.events import (
    ContextDocument,
    LLMCallEvent,
    Message,
    Output,
    RequestParams,
    ToolCall,
    Usage,
)


class MToolCall(msgspec.Struct, omit_defaults=True):
    name: str
    id: str | None = None
    arguments: str | None = None


class MMessage(msgspec.Struct, omit_defaults=True):
    role: str
    content: str | None = None
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[MToolCall] = []


class MUsage(msgspec.Struct, omit_defaults=True):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    estimated: bool = False


class MRequest(msgspec.Struct, omit_defaults=True):
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    top_k: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop_sequences: list[str] | None = None
    seed: int | None = None
    choice_count: int | None = None


class MOutput(msgspec.Struct, omit_defaults=True):
    text: str | None = None
    tool_calls: list[MToolCall] = []


class MDoc(msgspec.Struct, omit_defaults=True):
    text: str
    id: str | None = None
    source: str | None = None
    score: float | None = None


class MEvent(msgspec.Struct, omit_defaults=True):
    """The event as a msgspec Struct (unknown fields are dropped: msgspec cannot keep them)."""

    event_id: str
    schema_version: int = 1
    app: str = "default"
    environment: str = "dev"
    tenant: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    route: str | None = None
    source: str = "ingest"
    provider_name: str = "unknown"
    operation_name: str = "chat"
    request_model: str | None = None
    response_model: str | None = None
    response_id: str | None = None
    request: MRequest = msgspec.field(default_factory=MRequest)
    usage: MUsage = msgspec.field(default_factory=MUsage)
    finish_reasons: list[str] = []
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_ms: float | None = None
    time_to_first_token_ms: float | None = None
    streaming: bool = False
    http_status: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    input_messages: list[MMessage] = []
    output: MOutput = msgspec.field(default_factory=MOutput)
    context_documents: list[MDoc] | None = None
    tags: dict[str, str] = {}
    metadata: dict[str, Any] = {}
    truncated: bool = False
    redacted: bool = False
    redaction_types: list[str] = []
    body_sampled: bool = True


def sample_event() -> LLMCallEvent:
    start = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    return LLMCallEvent(
        app="support-bot",
        environment="prod",
        user_id="user-4821",
        session_id="sess-77",
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id="00f067aa0ba902b7",
        route="/v1/chat/completions",
        source="proxy",
        provider_name="openai",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        response_id="chatcmpl-9xYz",
        request=RequestParams(temperature=0.3, max_tokens=512, top_p=1.0),
        usage=Usage(input_tokens=612, output_tokens=143, cache_read_input_tokens=256),
        finish_reasons=["stop"],
        start_time=start,
        end_time=start + timedelta(milliseconds=1834),
        time_to_first_token_ms=231.5,
        streaming=True,
        http_status=200,
        input_messages=[
            Message(
                role="system",
                content="You are a helpful support agent for ACME. Answer briefly and politely.",
            ),
            Message(role="user", content="My order 1234 arrived damaged. " * 6),
        ],
        output=Output(
            text="I'm sorry to hear that! I have opened a replacement request for order 1234. " * 4,
            tool_calls=[ToolCall(id="call_1", name="create_ticket", arguments='{"order": 1234}')],
        ),
        context_documents=[
            ContextDocument(text="Damaged items are replaced free of charge within 30 days.", id="kb-12")
        ],
        tags={"team": "care", "tier": "gold"},
        metadata={"ab_variant": "b", "locale": "en-GB"},
    )


def rate(fn: Callable[[], Any], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn()
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()

    event = sample_event()
    raw = encode_event(event)
    as_dict = orjson.loads(raw)
    mdecoder = msgspec.json.Decoder(MEvent)
    mencoder = msgspec.json.Encoder()
    mevent = mdecoder.decode(raw)
    assert decode_event(raw) == event

    rows = [
        ("pydantic v2 validate_json / dump_json", lambda: decode_event(raw), lambda: encode_event(event)),
        (
            "orjson + pydantic (dict) validate / dump",
            lambda: LLMCallEvent.model_validate(orjson.loads(raw)),
            lambda: orjson.dumps(event.model_dump(mode="json")),
        ),
        ("msgspec Struct decode / encode", lambda: mdecoder.decode(raw), lambda: mencoder.encode(mevent)),
        ("orjson dicts, no validation", lambda: orjson.loads(raw), lambda: orjson.dumps(as_dict)),
    ]
    print(f"event JSON: {len(raw)} bytes; {args.seconds:.1f} s per measurement")
    print(f"{'codec':44} {'decode ev/s':>12} {'encode ev/s':>12}")
    for name, decode, encode in rows:
        print(f"{name:44} {rate(decode, args.seconds):12,.0f} {rate(encode, args.seconds):12,.0f}")
    print(
        "lightkeeper.schemas.codec uses pydantic v2: it validates, names bad fields and keeps unknown fields;"
    )
    print("msgspec validates types too but drops unknown fields and has no per-field constraints here.")


if __name__ == "__main__":
    main()
