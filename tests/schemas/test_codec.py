"""Event and record (de)serialization: round trips, forward compatibility, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightkeeper.errors import SchemaError
from lightkeeper.schemas.codec import RECORD_TYPES, decode, decode_event, encode, encode_event, validate
from lightkeeper.schemas.events import ContextDocument, LLMCallEvent, Message, Output, ToolCall, Usage
from lightkeeper.schemas.records import AlertRecord, Detector, ScoreRecord

START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def full_event() -> LLMCallEvent:
    return LLMCallEvent(
        app="support-bot",
        environment="prod",
        tenant="acme",
        user_id="u-1",
        session_id="s-1",
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id="00f067aa0ba902b7",
        route="/chat",
        source="proxy",
        provider_name="openai",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        response_id="chatcmpl-1",
        request={"temperature": 0.3, "max_tokens": 512, "stop_sequences": ["###"]},
        usage=Usage(input_tokens=812, output_tokens=95, cache_read_input_tokens=512, estimated=False),
        finish_reasons=["tool_calls"],
        start_time=START,
        end_time=START + timedelta(milliseconds=1834),
        time_to_first_token_ms=231.5,
        streaming=True,
        http_status=200,
        input_messages=[
            Message(role="system", content="You are a support agent."),
            Message(role="user", content="Where is my order 1234?"),
        ],
        output=Output(
            text="Let me check.",
            tool_calls=[ToolCall(id="c1", name="order_status", arguments='{"order": 1234}')],
        ),
        context_documents=[ContextDocument(text="Orders ship in 2 days.", id="kb-7", score=0.82)],
        tags={"team": "care"},
        metadata={"ab": "variant-b", "n": 3},
        redacted=True,
        redaction_types=["EMAIL"],
    )


def test_event_round_trip():
    ev = full_event()
    back = decode_event(encode_event(ev))
    assert back == ev
    assert back.duration_ms == pytest.approx(1834.0)
    assert back.model == "gpt-4o-2024-08-06" and not back.is_error
    assert back.prompt_text() == "Where is my order 1234?"


@pytest.mark.parametrize("name", sorted(RECORD_TYPES))
def test_every_record_type_round_trips(name):
    model = RECORD_TYPES[name]
    samples = {
        "llm_call_event": full_event(),
        "score": ScoreRecord(
            event_id="e", detector=Detector.INJECTION, score=0.9, flagged=True, details={"k": 1}
        ),
        "drift": RECORD_TYPES["drift"].model_validate(
            {
                "app": "a",
                "model": "m",
                "target": "prompt_embedding",
                "method": "mmd",
                "score": 0.2,
                "threshold": 0.1,
                "drifted": True,
                "reference": {"start": START, "end": START, "size": 10},
                "current": {"start": START, "end": START, "size": 12},
            }
        ),
        "anomaly": RECORD_TYPES["anomaly"].model_validate(
            {
                "app": "a",
                "metric": "cost",
                "window_start": START,
                "actual": 2.0,
                "score": 5.0,
                "detector": "zscore",
            }
        ),
        "alert": AlertRecord(rule="r", dedup_key="k", state="firing", labels={"app": "a"}),
    }
    record = samples[name]
    assert decode(model, encode(record)) == record


def test_unknown_fields_are_kept_top_level_and_nested():
    data = orjson.loads(encode_event(full_event()))
    data["new_top_level"] = {"from": "a newer producer"}
    data["usage"]["audio_input_tokens"] = 7
    data["input_messages"][0]["cache_control"] = {"type": "ephemeral"}
    ev = decode_event(orjson.dumps(data))
    assert ev.model_extra == {"new_top_level": {"from": "a newer producer"}}
    again = orjson.loads(encode_event(ev))
    assert again["new_top_level"] == {"from": "a newer producer"}
    assert again["usage"]["audio_input_tokens"] == 7
    assert again["input_messages"][0]["cache_control"] == {"type": "ephemeral"}


def _problems(raw: bytes | str) -> dict[str, str]:
    with pytest.raises(SchemaError) as info:
        decode_event(raw)
    return dict(info.value.problems)


def test_errors_name_the_field_and_the_problem():
    problems = _problems(b'{"usage": {"input_tokens": -5}, "http_status": "teapot", "input_messages": [{}]}')
    assert set(problems) == {"usage.input_tokens", "http_status", "input_messages.0.role"}
    assert "greater than or equal to 0" in problems["usage.input_tokens"]
    assert "integer" in problems["http_status"]
    assert problems["input_messages.0.role"] == "Field required"
    with pytest.raises(SchemaError, match=r"usage\.input_tokens: Input should be greater than or equal to 0"):
        decode_event(b'{"usage": {"input_tokens": -5}}')


def test_invalid_json_and_wrong_shapes():
    assert _problems(b"{not json")["<root>"].startswith(
        "Invalid JSON: key must be a string at line 1 column 2"
    )
    assert _problems(b"")["<root>"].startswith("Invalid JSON: EOF")
    assert _problems(b"[1, 2]") == {"<root>": "Input should be an object"}
    with pytest.raises(SchemaError, match="expected a JSON object"):
        validate(LLMCallEvent, [1, 2])
    problems = _problems(b'{"start_time": "2026-05-01T12:00:00Z", "end_time": "2026-05-01T11:00:00Z"}')
    assert any("end_time is before start_time" in msg for msg in problems.values())


def test_enum_and_length_limits():
    problems = _problems(b'{"source": "carrier-pigeon", "app": ""}')
    assert "source" in problems and "app" in problems
    with pytest.raises(SchemaError, match="score: Input should be less than or equal to 1"):
        decode(ScoreRecord, b'{"event_id": "e", "detector": "toxicity_prompt", "score": 1.5}')
    with pytest.raises(SchemaError, match="detector"):
        decode(ScoreRecord, b'{"event_id": "e", "detector": "vibes"}')


def test_naive_times_are_taken_as_utc():
    ev = decode_event(b'{"start_time": "2026-05-01T12:00:00", "end_time": "2026-05-01T14:00:00+02:00"}')
    assert ev.start_time == START and ev.end_time == START
    assert ev.duration_ms == 0.0


texts = st.text(max_size=40)
labels = st.text(min_size=1, max_size=20)


@settings(max_examples=60, deadline=None)
@given(
    app=labels,
    user=st.none() | texts,
    tokens=st.none() | st.integers(min_value=0, max_value=2**31),
    temp=st.none() | st.floats(min_value=0, max_value=2, allow_nan=False),
    contents=st.lists(texts, max_size=4),
    tags=st.dictionaries(labels, texts, max_size=3),
    extra=st.dictionaries(st.sampled_from(["x_new", "y_new"]), st.integers() | texts, max_size=2),
    ms=st.integers(min_value=0, max_value=10**7),
)
def test_round_trip_property(app, user, tokens, temp, contents, tags, extra, ms):
    ev = LLMCallEvent(
        app=app,
        user_id=user,
        usage=Usage(input_tokens=tokens),
        request={"temperature": temp},
        input_messages=[Message(role="user", content=c) for c in contents],
        tags=tags,
        start_time=START,
        end_time=START + timedelta(milliseconds=ms),
        **extra,
    )
    back = decode_event(encode_event(ev))
    assert back == ev
    assert back.model_extra == extra
