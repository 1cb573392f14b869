"""One token estimate: the agent (building an event), the enricher (a pydantic event) and the
worker's fast path (an event decoded to a row) give the same counts for the same text."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from lightkeeper.agent.events import _estimate_usage
from lightkeeper.processors.enrich import Enricher, fill_token_estimates
from lightkeeper.processors.pipeline import Pipeline, RawEvent
from tests.worker.helpers import event, raw

CALL = {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'}
MESSAGES = [
    {"role": "system", "content": "You are a weather assistant. Answer briefly."},
    {"role": "user", "content": "What's the weather in Paris today?"},
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "content": '{"temp": 21, "sky": "clear"}'},
]
OUTPUT = {"text": "It is 21 °C and clear.", "tool_calls": [CALL]}


def _agent_counts() -> tuple[Any, Any]:
    data: dict[str, Any] = {"usage": {}, "input_messages": MESSAGES, "output": OUTPUT}
    _estimate_usage(data, SimpleNamespace(status=200))  # type: ignore[arg-type]
    return data["usage"]["input_tokens"], data["usage"]["output_tokens"]


def _enricher_counts() -> tuple[Any, Any]:
    ev = event(1, usage={}, input_messages=MESSAGES, output=OUTPUT)
    assert fill_token_estimates(ev)
    return ev.usage.input_tokens, ev.usage.output_tokens


def _fast_path_counts() -> tuple[Any, Any]:
    value = raw(1, usage={}, input_messages=MESSAGES, output=OUTPUT)
    batch = Pipeline(Enricher(), []).process([RawEvent(value, None, "t", 0, 0)])
    row = batch.rows["events"][0]
    assert row["tokens_estimated"] == 1
    return row["input_tokens"], row["output_tokens"]


def test_agent_enricher_and_fast_path_estimate_alike() -> None:
    agent, enricher, fast = _agent_counts(), _enricher_counts(), _fast_path_counts()
    assert agent == enricher == fast
    assert agent[0] is not None and agent[0] > 0
    assert agent[1] is not None and agent[1] > 0


def test_no_captured_text_estimates_nothing() -> None:
    data: dict[str, Any] = {"usage": {}, "input_messages": [], "output": {"text": None}}
    _estimate_usage(data, SimpleNamespace(status=200))  # type: ignore[arg-type]
    assert data["usage"] == {}
    ev = event(2, usage={}, input_messages=[], output={"text": None})
    assert not fill_token_estimates(ev)
    assert ev.usage.input_tokens is None and ev.usage.output_tokens is None
