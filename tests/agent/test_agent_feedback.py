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
