"""Realistic test events for the store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lightkeeper.schemas.events import (
    ContextDocument,
    LLMCallEvent,
    Message,
    Output,
    RequestParams,
    ToolCall,
    Usage,
)

#: Recent (the tables' TTLs drop rows older than the retention at insert/merge time), whole hour.
BASE = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def make_event(
    i: int, *, app: str = "chat", model: str = "gpt-4o", minute: int = 0, error: bool = False, **extra: object
) -> LLMCallEvent:
    start = BASE + timedelta(minutes=minute, seconds=i % 50)
    return LLMCallEvent(
        event_id=f"ev-{app}-{minute}-{i}",
        app=app,
        environment="test",
        user_id=f"user-{i % 7}",
        provider_name="openai",
        request_model=model,
        response_model=model,
        request=RequestParams(temperature=0.2, max_tokens=256, stop_sequences=["END"]),
        usage=Usage(input_tokens=100 + i, output_tokens=20 + i % 9, cache_read_input_tokens=i % 3),
        finish_reasons=["stop"],
        start_time=start,
        end_time=start + timedelta(milliseconds=100 + 10 * i),
        time_to_first_token_ms=30.0 + i,
        http_status=500 if error else 200,
        error_type="server_error" if error else None,
        input_messages=[
            Message(role="system", content="Be brief."),
            Message(role="user", content=f"Question {i}?"),
        ],
        output=Output(text=f"Answer {i}.", tool_calls=[ToolCall(name="lookup", arguments='{"q": 1}')]),
        context_documents=[ContextDocument(text="Paris is in France.", id="d1")] if i % 2 else None,
        tags={"team": "search", "tier": str(i % 2)},
        metadata={"feature": "faq"},
        **extra,
    )
