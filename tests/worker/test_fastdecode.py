"""The fast decode path gives exactly the rows, events and dead letters of the pydantic path."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightkeeper.processors._eventlist import EventList
from lightkeeper.processors.enrich import Enricher, Enrichment
from lightkeeper.processors.pipeline import Batch, Pipeline, RawEvent
from lightkeeper.schemas._fastdecode import decode_row
from tests.worker.helpers import T0, event, raw

DAY = T0.date().isoformat()  # the events' day (recent, inside the retention)

FAST = Pipeline(fast=True)
REFERENCE = Pipeline(fast=False)


def _both(values: list[bytes]) -> tuple[Batch, Batch]:
    raws = [RawEvent(v, None, "t", 0, i) for i, v in enumerate(values)]
    return FAST.process(raws), REFERENCE.process(raws)


def _same(fast: Batch, ref: Batch) -> None:
    assert fast.rows == ref.rows
    assert [(d.value, d.reason, d.stage) for d in fast.dead] == [
        (d.value, d.reason, d.stage) for d in ref.dead
    ]
    assert list(fast.events) == list(ref.events)
    assert fast.enrichments == ref.enrichments
    assert fast.sources == ref.sources


def _json(i: int = 0, **over: Any) -> bytes:
    data = orjson.loads(raw(i))
    data.update(over)
    return json.dumps(data).encode()  # stdlib: also writes integers orjson cannot read


RICH = [
    raw(0),
    raw(1, usage={}, output={"text": "some longer answer with 12 words and digits 12345"}),  # estimated
    raw(2, usage={}, http_status=500, error_type="server_error", output={}),  # failed, free
    raw(3, request_model="acme-private", response_model=None),  # unknown model: cost NULL
    raw(
        4,
        provider_name="anthropic",
        request_model="claude-3-5-sonnet-20241022",
        response_model=None,
        request={"temperature": 0.2, "max_tokens": 512, "stop_sequences": ["\n\n"], "seed": 7, "top_k": 40},
        input_messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "héllo ✓ “quotes” \u2028"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "name": "lookup", "arguments": '{"q": 1}'}],
            },
            {"role": "tool", "content": "42", "tool_call_id": "c1", "name": "lookup"},
        ],
        output={"text": None, "tool_calls": [{"name": "f", "arguments": None}]},
        context_documents=[
            {"text": "doc", "score": 1},
            {"text": "d2", "id": "x", "source": "kb", "score": 0.25},
        ],
        tags={"team": "a", "": ""},
        metadata={"k": None, "n": [1, 2.5, {"z": True}], "s": "x"},
        finish_reasons=["stop"],
        streaming=True,
        time_to_first_token_ms=12,
        redacted=True,
        redaction_types=["EMAIL"],
        truncated=True,
        body_sampled=False,
        tenant="t1",
        route="/chat",
        session_id="s",
        trace_id="a" * 32,
        span_id="b" * 16,
        response_id="r",
        source="proxy",
        environment="prod",
    ),
    _json(5, start_time=f"{DAY}T14:00:00.123+02:00", end_time=f"{DAY}T12:00:01.5Z", duration_ms=None),
    _json(6, end_time=f"{DAY}T12:00:02Z"),
]


def test_common_events_take_the_fast_path_and_match_pydantic() -> None:
    assert all(decode_row(v) is not None for v in RICH)
    fast, ref = _both(RICH)
    assert len(fast.rows["events"]) == len(RICH)
    _same(fast, ref)
    assert fast.rows["events"][1]["tokens_estimated"] == 1
    assert fast.rows["events"][3]["cost_unknown_model"] == 1


UNUSUAL = [
    _json(10, surprise={"new": "field"}),  # extra field: kept in `extra`
    _json(11, usage={"input_tokens": "1000", "output_tokens": 2}),  # lax int from a string
    _json(12, start_time=f"{DAY}T12:00:00"),  # naive: read as UTC
    _json(13, start_time=int(T0.timestamp())),  # unix seconds
    _json(14, input_messages=[{"role": "user", "content": "x", "lang": "en"}]),  # nested extra
    _json(15, streaming="yes"),  # lax bool
    orjson.dumps({"app": "only", "request_model": "gpt-4o-mini"}),  # generated id and time
]
INVALID = [
    b"",
    b"not json",
    b"[1, 2]",
    _json(20, usage={"input_tokens": -1}),
    _json(21, start_time="yesterday"),
    _json(22, end_time=f"{DAY}T11:00:00Z"),  # before start
    _json(23, app=""),
    _json(24, http_status=1000),
    _json(25, event_id="x" * 129),
    _json(26, input_messages=[{"content": "no role"}]),
    _json(28, source="carrier-pigeon"),
    _json(29, tags={"a": 1}),
]


def test_unusual_and_invalid_events_fall_back_to_pydantic() -> None:
    assert all(decode_row(v) is None for v in UNUSUAL + INVALID)
    fast, ref = _both(UNUSUAL + INVALID)
    assert len(fast.dead) == len(INVALID)
    assert all(d.stage == "decode" for d in fast.dead)
    _same(
        fast,
        Batch(
            events=fast.events,  # generated ids/times differ per decode: compare the rest
            enrichments=ref.enrichments,
            sources=ref.sources,
            rows=fast.rows,
            dead=ref.dead,
        ),
    )
    assert orjson.loads(fast.rows["events"][0]["extra"]) == {"surprise": {"new": "field"}}
    assert fast.rows["events"][:6] == ref.rows["events"][:6]


def test_events_are_built_only_when_read() -> None:
    batch = FAST.process([RawEvent(raw(i, usage={})) for i in range(3)])
    events = batch.events
    assert isinstance(events, EventList)
    assert all(type(item).__name__ == "_Pending" for item in events._items)
    second = events[1]
    row = batch.rows["events"][1]
    assert row["tokens_estimated"] == 1
    usage = {"input_tokens": row["input_tokens"], "output_tokens": row["output_tokens"], "estimated": True}
    assert second == event(1, usage=usage)
    assert type(events._items[0]).__name__ == "_Pending"
    batch.drop_event_rows({0})
    assert [e.event_id for e in batch.events] == [event(1).event_id, event(2).event_id]
    assert len(batch.rows["events"]) == len(batch.sources) == 2


_text = st.text(max_size=6)
_maybe = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**33), st.floats(-1, 1e3), _text)
_FIELDS: dict[str, Any] = {
    "app": st.one_of(_text, st.just("a" * 257)),
    "user_id": st.one_of(st.none(), _text, st.integers()),
    "source": st.sampled_from(["proxy", "sdk", "bogus", 3]),
    "request_model": st.sampled_from([None, "gpt-4o", "claude-3-haiku", "ft:gpt-4o:x", "", "x" * 257]),
    "usage": st.dictionaries(
        st.sampled_from(["input_tokens", "output_tokens", "cache_read_input_tokens", "estimated", "extra"]),
        _maybe,
        max_size=4,
    ),
    "request": st.dictionaries(
        st.sampled_from(["temperature", "max_tokens", "seed", "top_k"]), _maybe, max_size=3
    ),
    "http_status": _maybe,
    "duration_ms": _maybe,
    "streaming": _maybe,
    "error_type": st.one_of(st.none(), _text),
    "end_time": st.sampled_from([None, f"{DAY}T12:00:01Z", f"{DAY}T13:00:01+05:30", DAY]),
    "finish_reasons": st.one_of(st.lists(_text, max_size=2), st.lists(_maybe, max_size=2)),
    "output": st.fixed_dictionaries(
        {}, optional={"text": st.one_of(st.none(), _text), "tool_calls": st.just([])}
    ),
    "tags": st.dictionaries(_text, st.one_of(_text, st.integers()), max_size=2),
    "metadata": st.dictionaries(_text, _maybe, max_size=2),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional=_FIELDS), st.integers(0, 99))
def test_random_events_give_identical_outcomes(over: dict[str, Any], i: int) -> None:
    fast, ref = _both([_json(i, **over)])
    _same(fast, ref)


class _NegativeCost(Enricher):
    """Prices event 1 at a negative cost: its row is refused (a ``row`` dead letter)."""

    def cost_of(self, *args: Any, **kwargs: Any) -> Enrichment:
        got = super().cost_of(*args, **kwargs)
        if args[3][0] == 1001:  # the input tokens of event 1 below
            got.cost_usd = Decimal(-1)
        return got


def test_refused_rows_become_the_same_dead_letters_on_both_paths() -> None:
    values = [raw(i, usage={"input_tokens": 1000 + i, "output_tokens": 5}) for i in range(3)]
    raws = [RawEvent(v, None, "t", 0, i) for i, v in enumerate(values)]
    fast = Pipeline(_NegativeCost(), fast=True).process(raws)
    ref = Pipeline(_NegativeCost(), fast=False).process(raws)
    _same(fast, ref)
    assert [(d.value, d.stage, d.offset) for d in fast.dead] == [(values[1], "row", 1)]
    assert "invalid cost" in fast.dead[0].reason
    assert [r["event_id"] for r in fast.rows["events"]] == [event(0).event_id, event(2).event_id]
