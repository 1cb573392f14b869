"""Feedback through the pipeline into the store: joined with its event (by id, span, trace or
session), unmatched until a late event arrives, invalid items dead-lettered, erased with the user."""

from __future__ import annotations

from typing import Any

from lightkeeper.processors.metrics import WorkerMetrics
from lightkeeper.processors.pipeline import Pipeline, RawEvent
from lightkeeper.processors.sink import Sink
from lightkeeper.schemas.feedback import FeedbackRecord
from lightkeeper.store.erasure import Eraser, Selector

from .helpers import raw


def _raws(values: list[bytes]) -> list[RawEvent]:
    return [RawEvent(v, topic="lightkeeper.events", partition=0, offset=i) for i, v in enumerate(values)]


def _fb(**kw: Any) -> bytes:
    return FeedbackRecord(**kw).encode()


async def _store(client: Any, db: str, values: list[bytes]) -> Any:
    batch = Pipeline().process(_raws(values))
    assert await Sink(client, database=db, metrics=WorkerMetrics()).store(batch)
    return batch


def _joined(client: Any, db: str) -> dict[str, tuple]:
    rows = client.query(
        f"SELECT feedback_id, matched_event_id, unmatched, negative, score FROM {db}.feedback_events"
    ).result_rows
    return {r[0]: tuple(r[1:]) for r in rows}


async def test_feedback_joins_its_event_and_late_events_rejoin(
    store_client: Any, store_database: str
) -> None:
    db, client = store_database, store_client
    ev1 = raw(1, trace_id="t1", span_id="s1", session_id="sess")
    ev2 = raw(2, trace_id="t1", span_id="s2", session_id="sess")
    eid = "00000000-0000-7000-8000-{:012d}"
    values = [
        ev1,
        _fb(feedback_id="f-event", event_id=eid.format(1), score="down", user_id="u1"),
        _fb(feedback_id="f-span", trace_id="t1", span_id="s2", score=5),
        _fb(feedback_id="f-trace", trace_id="t1", score=True),
        _fb(feedback_id="f-session", session_id="sess", score=2, scale=(1, 5)),
        _fb(feedback_id="f-late", event_id=eid.format(3), score="up"),
        b'{"record":"feedback","score":"up"}',  # no target: a dead letter with the reason
        ev2,
    ]
    batch = await _store(client, db, values)
    assert len(batch.events) == 2 and len(batch.rows["feedback"]) == 5
    assert [d.stage for d in batch.dead] == ["decode"] and "needs event_id" in batch.dead[0].reason

    joined = _joined(client, db)
    assert joined["f-event"] == (eid.format(1), 0, 1, 0.0)
    assert joined["f-span"] == (eid.format(2), 0, 0, 1.0)
    assert joined["f-trace"][0] in (eid.format(1), eid.format(2)) and joined["f-trace"][1] == 0
    assert joined["f-session"][1:] == (0, 1, 0.25)
    assert joined["f-late"] == ("", 1, 0, 1.0)  # stored, flagged unmatched

    await _store(client, db, [raw(3)])  # the event arrives later
    assert _joined(client, db)["f-late"] == (eid.format(3), 0, 0, 1.0)

    # re-sent feedback replaces the earlier copy
    await _store(client, db, [_fb(feedback_id="f-late", event_id=eid.format(3), score="down")])
    assert _joined(client, db)["f-late"][2] == 1
    assert client.query(f"SELECT count() FROM {db}.feedback_events").result_rows[0][0] == 5


async def test_erasing_a_user_removes_its_feedback(store_client: Any, store_database: str) -> None:
    db, client = store_database, store_client
    eid = "00000000-0000-7000-8000-{:012d}"
    await _store(
        client,
        db,
        [
            raw(1),  # user u1
            raw(2),  # user u2
            _fb(feedback_id="on-u1-event", event_id=eid.format(1), score="down"),
            _fb(feedback_id="by-u1", event_id=eid.format(2), score="up", user_id="u1"),
            _fb(feedback_id="other", event_id=eid.format(2), score="up", user_id="u2"),
        ],
    )
    report = Eraser(client, db, salt=b"s").erase(Selector("user", "u1"), requested_by="t")
    assert report.counts["feedback"] == 2
    left = [r[0] for r in client.query(f"SELECT feedback_id FROM {db}.feedback_dedup").result_rows]
    assert left == ["other"]
