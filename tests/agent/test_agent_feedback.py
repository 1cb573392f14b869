"""POST /v1/feedback: validated, comments redacted, sent with the events; bad input refused
with reasons and nothing sent."""

from __future__ import annotations

import aiohttp
import orjson

from lightkeeper.schemas.feedback import FEEDBACK_PREFIX, FeedbackRecord


async def _post(url: str, body: object, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(url + "/v1/feedback", json=body, headers=headers) as r:
        return r.status, await r.json()


async def test_feedback_is_accepted_redacted_and_published(agent_factory):
    agent = await agent_factory()
    status, body = await _post(
        agent.url,
        [
            {
                "event_id": "ev-1",
                "score": "down",
                "comment": "Wrong, mail me at jane.doe@example.com",
                "user_id": "u1",
            },
            {"trace_id": "t1", "span_id": "s1", "score": 4, "scale": [1, 5], "app": "shop"},
            {"session_id": "sess-9", "score": True},
        ],
    )
    assert status == 202 and body["accepted"] == 3 and len(body["feedback_ids"]) == 3
    records = await agent.sink.wait_for(3)
    assert all(value.startswith(FEEDBACK_PREFIX) for _, value in records)
    parsed = [FeedbackRecord.model_validate_json(value) for _, value in records]
    down, rating, thumbs = parsed
    assert down.negative and down.target == ("event", "ev-1")
    assert "jane.doe@example.com" not in (down.comment or "") and down.redacted
    assert "EMAIL" in down.redaction_types
    assert rating.normalized == 0.75 and not rating.negative and rating.target == ("span", "t1/s1")
    assert thumbs.score is True and thumbs.target == ("session", "sess-9")
    assert [key for key, _ in records] == [b"ev-1", b"t1/s1", b"sess-9"]


async def test_bad_feedback_is_refused_with_reasons_and_nothing_is_sent(agent_factory):
    agent = await agent_factory()
    status, body = await _post(
        agent.url,
        [
            {"event_id": "ev-1", "score": "up"},  # valid, but the batch is refused as a whole
            {"score": "up"},
            {"event_id": "e", "score": 9, "scale": [1, 5]},
            {"event_id": "e", "score": "meh"},
            {"span_id": "s", "score": 1, "scale": [0, 1]},
            "thumbs up",
        ],
    )
    assert status == 400 and body["accepted"] == 0 and body["rejected"] == 5
    messages = {e["index"]: " ".join(p["message"] for p in e["problems"]) for e in body["errors"]}
    assert "needs event_id, trace_id" in messages[1]
    assert "outside the scale [1, 5]" in messages[2]
    assert '"up", "down"' in messages[3]
    assert "span_id needs its trace_id" in messages[4]
    assert "expected an object" in messages[5]
    async with aiohttp.ClientSession() as s, s.post(agent.url + "/v1/feedback", data=b"{nope") as r:
        assert r.status == 400 and "not JSON" in (await r.json())["error"]
    assert agent.sink.records == []


async def test_feedback_requires_the_ingest_token_when_configured(agent_factory):
    agent = await agent_factory(ingest_token="t0ken-123")
    status, _ = await _post(agent.url, {"event_id": "e", "score": "up"})
    assert status == 401
    status, _ = await _post(
        agent.url, {"event_id": "e", "score": "up"}, {"Authorization": "Bearer t0ken-123"}
    )
    assert status == 202
    assert orjson.loads(agent.sink.records[0][1])["event_id"] == "e"


def _attr(key: str, value: object) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


async def test_feedback_as_an_otel_span_event(agent_factory):
    agent = await agent_factory()
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "user-rating",  # not a GenAI span: only its feedback event is taken
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000100000000",
        "events": [
            {
                "name": "lightkeeper.feedback",
                "timeUnixNano": "1700000000050000000",
                "attributes": [
                    _attr("lightkeeper.feedback.score", 2),
                    _attr("lightkeeper.feedback.scale_min", 1),
                    _attr("lightkeeper.feedback.scale_max", 5),
                    _attr("lightkeeper.feedback.comment", "write to bob@example.org"),
                    _attr("enduser.id", "u-7"),
                ],
            },
            {"name": "lightkeeper.feedback", "attributes": [_attr("lightkeeper.feedback.score", 9)]},
            {"name": "something.else", "attributes": []},
        ],
    }
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", "svc")]},
                "scopeSpans": [{"spans": [span]}],
            }
        ]
    }
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            agent.url + "/v1/traces", data=orjson.dumps(doc), headers={"Content-Type": "application/json"}
        ) as r,
    ):
        assert r.status == 200
        body = await r.json()
    assert body["partialSuccess"]["rejectedSpans"] == "1"
    assert "outside the scale [1, 5]" in body["partialSuccess"]["errorMessage"]
    ((key, value),) = await agent.sink.wait_for(1)
    rec = FeedbackRecord.model_validate_json(value)
    assert rec.source == "otlp" and rec.app == "svc" and rec.user_id == "u-7"
    assert (
        rec.target == ("span", "5b8efff798038103d269b633813fc60c/eee19b7ec3c1b174")
        and key == rec.target[1].encode()
    )
    assert rec.normalized == 0.25 and rec.negative
    assert "bob@example.org" not in (rec.comment or "") and rec.redacted
