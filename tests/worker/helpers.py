"""Event factories shared by the worker tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lightkeeper.schemas.codec import encode_event
from lightkeeper.schemas.events import LLMCallEvent

# Yesterday at noon: inside every retention window, whatever day the suite runs.
T0 = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)


def event(i: int = 0, **over: Any) -> LLMCallEvent:
    """A realistic OpenAI chat event with known usage (gpt-4o-mini unless overridden)."""
    data: dict[str, Any] = {
        "event_id": f"00000000-0000-7000-8000-{i:012d}",
        "app": "shop",
        "provider_name": "openai",
        "request_model": "gpt-4o-mini",
        "response_model": "gpt-4o-mini-2024-07-18",
        "user_id": f"u{i % 7}",
        "start_time": T0,
        "duration_ms": 420.0,
        "http_status": 200,
        "usage": {"input_tokens": 1000, "output_tokens": 200, "cache_read_input_tokens": 400},
        "input_messages": [{"role": "user", "content": f"question number {i}"}],
        "output": {"text": f"answer number {i}"},
    }
    data.update(over)
    return LLMCallEvent.model_validate(data)


def raw(i: int = 0, **over: Any) -> bytes:
    return encode_event(event(i, **over))


# gpt-4o-mini: in 0.15, out 0.60, cached 0.075 per 1M tokens
# 600 * 0.15 + 400 * 0.075 + 200 * 0.60 = 90 + 30 + 120 = 240 micro-USD
COST_PER_EVENT = "0.000240000"
