"""Pipeline + sink on the embedded store: exact costs, NULL for unknown models, dead letters,
idempotency, store outages."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from lightkeeper.errors import StoreUnavailable
from lightkeeper.processors.enrich import Enricher
from lightkeeper.processors.pipeline import Batch, Pipeline, RawEvent
from lightkeeper.processors.sink import Sink
from tests.worker.helpers import COST_PER_EVENT, raw


def _raws(values: list[bytes]) -> list[RawEvent]:
    return [RawEvent(v, None, "t", 0, i) for i, v in enumerate(values)]


def _q(client: Any, db: str, sql: str) -> list[tuple]:
    return client.query(sql.replace("{db}", db)).result_rows


async def test_exact_costs_are_stored_per_event(store_client: Any, store_database: str) -> None:
    values = [raw(i) for i in range(50)]
    values.append(
        raw(
            100,
            provider_name="anthropic",
            request_model="claude-3-5-sonnet-20241022",
            response_model="claude-3-5-sonnet-20241022",
            usage={
                "input_tokens": 100,
                "output_tokens": 300,
                "cache_read_input_tokens": 1000,
                "cache_creation_input_tokens": 2000,
            },
        )
    )
    values.append(raw(101, request_model="acme-private-llm", response_model=None))
    batch = Pipeline().process(_raws(values))
    assert batch.dead == []
    sink = Sink(store_client, database=store_database)
    assert await sink.store(batch)
    rows = _q(
        store_client,
        store_database,
        "SELECT event_id, cost_usd, cost_input_usd, cost_output_usd, cost_cached_input_usd, "
        "cost_unknown_model, pricing_version FROM {db}.events_dedup ORDER BY event_id",
    )
    assert len(rows) == 52
    by_id = {r[0]: r[1:] for r in rows}
    first = by_id["00000000-0000-7000-8000-000000000000"]
    assert first[:5] == (
        Decimal(COST_PER_EVENT),
        Decimal("0.00012"),
        Decimal("0.00012"),
        Decimal("0.00003"),
        0,
    )
    assert first[5] == "2026-11-01"
    claude = by_id["00000000-0000-7000-8000-000000000100"]
    assert claude[:3] == (Decimal("0.0126"), Decimal("0.0081"), Decimal("0.0045"))
    unknown = by_id["00000000-0000-7000-8000-000000000101"]
    assert unknown[0] is None and unknown[4] == 1  # NULL cost and the flag, never 0
    total = _q(
        store_client, store_database, "SELECT sum(cost_usd), countIf(cost_usd IS NULL) FROM {db}.events_dedup"
    )
    assert total == [(Decimal(COST_PER_EVENT) * 50 + Decimal("0.0126"), 1)]


async def test_missing_usage_is_estimated_and_marked(store_client: Any, store_database: str) -> None:
    batch = Pipeline().process(_raws([raw(1, usage={})]))
    await Sink(store_client, database=store_database).store(batch)
    rows = _q(
        store_client,
        store_database,
        "SELECT input_tokens, output_tokens, tokens_estimated, cost_usd > 0 FROM {db}.events_dedup",
    )
    assert rows[0][2] == 1 and rows[0][0] > 0 and rows[0][1] > 0 and rows[0][3] == 1


async def test_poison_messages_become_dead_letters_with_reasons(
    store_client: Any, store_database: str
) -> None:
    values = [
        raw(1),
        b"{not json",
        b"",
        b'{"event_id": "x", "usage": {"input_tokens": -5}}',
        raw(2),
        raw(3, request={"seed": 2**70}),  # valid JSON, but too big for the Int64 column
    ]
    batch = Pipeline().process(_raws(values))
    sink = Sink(store_client, database=store_database)
    assert await sink.store(batch)
    reasons = {d.offset: (d.stage, d.reason) for d in batch.dead}
    assert set(reasons) == {1, 2, 3, 5}
    assert reasons[1][0] == "decode" and "invalid" in reasons[1][1].lower()
    assert reasons[2] == ("decode", "empty message")
    assert "usage.input_tokens" in reasons[3][1]
    assert reasons[5][0] == "store" and "seed" in reasons[5][1]
    assert [d.value for d in batch.dead if d.offset == 1] == [b"{not json"]
    ids = [
        r[0]
        for r in _q(store_client, store_database, "SELECT event_id FROM {db}.events_dedup ORDER BY event_id")
    ]
    assert ids == ["00000000-0000-7000-8000-000000000001", "00000000-0000-7000-8000-000000000002"]
    assert sink.metrics.value("lightkeeper_worker_dead_letters_total", {"stage": "decode"}) == 3
    headers = dict(batch.dead[0].headers())
    assert headers["lightkeeper.source.offset"] == b"1"


async def test_redelivered_batches_are_absorbed_by_the_dedup_view(
    store_client: Any, store_database: str
) -> None:
    pipeline = Pipeline()
    sink = Sink(store_client, database=store_database)
    values = [raw(i) for i in range(20)]
    await sink.store(pipeline.process(_raws(values)))
    await sink.store(pipeline.process(_raws(values[5:15])))  # redelivery after a crash
    rows = _q(store_client, store_database, "SELECT count(), sum(cost_usd) FROM {db}.events_dedup")
    assert rows == [(20, Decimal(COST_PER_EVENT) * 20)]


class FlakyClient:
    """Delegates to the real client but refuses ``fail`` inserts first (store outage)."""

    def __init__(self, client: Any, fail: int) -> None:
        self._client = client
        self.fail = fail
        self.attempts = 0

    def insert_arrow(self, *args: Any, **kwargs: Any) -> Any:
        self.attempts += 1
        if self.attempts <= self.fail:
            raise ConnectionError("store is down")
        return self._client.insert_arrow(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


async def test_store_outage_pauses_retries_and_loses_nothing(store_client: Any, store_database: str) -> None:
    flaky = FlakyClient(store_client, fail=3)
    sink = Sink(flaky, database=store_database, retry_initial_s=0.01, retry_max_s=0.05)
    calls: list[str] = []
    batch = Pipeline().process(_raws([raw(i) for i in range(10)]))
    stored = await sink.store(
        batch, on_pause=lambda: calls.append("pause"), on_resume=lambda: calls.append("resume")
    )
    assert stored and calls == ["pause", "resume"]
    assert flaky.attempts == 4
    assert _q(store_client, store_database, "SELECT count() FROM {db}.events_dedup") == [(10,)]
    assert sink.metrics.value("lightkeeper_worker_store_unavailable_total") == 3


async def test_store_outage_can_be_interrupted_without_acknowledging(
    store_client: Any, store_database: str
) -> None:
    sink = Sink(FlakyClient(store_client, fail=10**6), database=store_database, retry_initial_s=0.01)
    stop = asyncio.Event()
    batch = Pipeline().process(_raws([raw(1)]))
    asyncio.get_running_loop().call_later(0.1, stop.set)
    assert await sink.store(batch, should_stop=stop.is_set) is False
    with pytest.raises(StoreUnavailable):
        Sink(FlakyClient(store_client, fail=1), database=store_database).write(batch)


class RecordingStage:
    name = "recording"

    def __init__(self) -> None:
        self.seen = 0

    def process(self, batch: Batch) -> None:
        self.seen += len(batch.events)
        batch.add_records("scores", [])


class BrokenStage:
    name = "broken"

    def process(self, batch: Batch) -> None:
        raise RuntimeError("model not loaded")


def test_a_failing_stage_never_blocks_events() -> None:
    recording = RecordingStage()
    batch = Pipeline(Enricher(), [BrokenStage(), recording]).process(_raws([raw(1), raw(2)]))
    assert len(batch.rows["events"]) == 2 and recording.seen == 2
    assert "model not loaded" in batch.stage_errors["broken"]
