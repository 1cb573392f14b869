"""The scores stage reads what the model read: RAG documents and tool results are scored for
planted instructions (detector ``injection_context``) and are the groundedness context (with the
system prompt)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lightkeeper.processors.pipeline import Batch
from lightkeeper.processors.pipeline_stages import ScoresStage
from lightkeeper.processors.scoring.base import ScoreInput, ScoreResult
from lightkeeper.schemas.events import ContextDocument, LLMCallEvent, Message, Output
from lightkeeper.schemas.records import Detector

START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class Recording:
    """Scorer double: records its items; context items score 0.9 with their own threshold."""

    version = "fake-v1"
    threshold = 0.5

    def __init__(self) -> None:
        self.items: list[ScoreInput] = []

    def score_batch(self, items: list[ScoreInput]) -> list[ScoreResult]:
        self.items += items
        return [
            ScoreResult(0.9, {"threshold": 0.7}, True)
            if it.context is not None
            else ScoreResult(0.1, {}, False)
            for it in items
        ]


def _event(docs: list[str], tool: str | None) -> LLMCallEvent:
    messages = [
        Message(role="system", content="You answer from the order database."),
        Message(role="user", content="Where is order 12?"),
    ]
    if tool is not None:
        messages.append(Message(role="tool", content=tool, tool_call_id="c1"))
    return LLMCallEvent(
        app="a",
        request_model="m",
        start_time=START,
        end_time=START + timedelta(seconds=1),
        input_messages=messages,
        output=Output(text="Order 12 ships on Friday."),
        context_documents=[ContextDocument(text=d) for d in docs] or None,
    )


def test_rag_documents_and_tool_results_are_scored_for_planted_instructions() -> None:
    injection, grounding = Recording(), Recording()
    stage = ScoresStage({"injection": injection, "hallucination": grounding})
    events = [
        _event(["Order 12: ships Friday."], "status: packed"),
        _event([], None),
        _event([], "status: lost"),
    ]
    batch = Batch(events=events)
    stage.process(batch)
    rows = [(r.event_id, r.detector, r.threshold) for r in batch.records["scores"]]
    context_rows = [r for r in rows if r[1] == Detector.INJECTION_CONTEXT]
    assert [r[0] for r in context_rows] == [events[0].event_id, events[2].event_id]
    assert all(r[2] == 0.7 for r in context_rows)  # the threshold the context was judged by
    assert sum(r[1] == Detector.INJECTION for r in rows) == 3
    contexts = [it.context for it in injection.items if it.context is not None]
    assert contexts == [["Order 12: ships Friday.", "status: packed"], ["status: lost"]]
    # groundedness: documents + tool results + system prompt; not scored without either
    assert [it.context for it in grounding.items] == [
        ["Order 12: ships Friday.", "status: packed", "You answer from the order database."],
        ["status: lost", "You answer from the order database."],
    ]
