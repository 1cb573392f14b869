"""Late events of erased subjects are dropped by the pipeline and counted; others pass."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lightkeeper.processors.erased import ErasedSubjects, store_loader
from lightkeeper.processors.metrics import WorkerMetrics
from lightkeeper.processors.pipeline import Pipeline, RawEvent
from lightkeeper.processors.sink import Sink
from lightkeeper.schemas.rows import event_row
from lightkeeper.store.erasure import Eraser, Selector, subject_hash
from lightkeeper.store.writer import BatchWriter

from .helpers import T0, event, raw

SALT = b"worker-salt"


def _raws(values: list[bytes]) -> list[RawEvent]:
    return [RawEvent(v, topic="lightkeeper.events", partition=0, offset=i) for i, v in enumerate(values)]


@pytest.mark.parametrize("fast", [True, False])
def test_erased_user_session_and_tenant_events_are_dropped(fast: bool) -> None:
    subjects = [
        ("user", subject_hash(SALT, "user", "u3"), None),
        ("session", subject_hash(SALT, "session", "s-gone"), None),
        ("tenant", subject_hash(SALT, "tenant", "acme"), T0),  # only events before T0
    ]
    erased = ErasedSubjects(SALT, lambda: subjects)
    values = [raw(i) for i in range(14)]  # users u0..u6, twice
    values.append(raw(20, user_id="x", session_id="s-gone"))
    values.append(raw(21, user_id="x", tenant="acme", start_time=T0 - timedelta(hours=1)))
    values.append(raw(22, user_id="x", tenant="acme", start_time=T0 + timedelta(hours=1)))
    batch = Pipeline(erased=erased, fast=fast).process(_raws(values))

    users = [row["user_id"] for row in batch.rows["events"]]
    assert "u3" not in users and len(users) == len(values) - 4
    assert [e.user_id for e in batch.events] == users  # events, rows and sources stay aligned
    assert len(batch.sources) == len(users) == len(batch.enrichments)
    assert dict(erased.dropped) == {"user": 2, "session": 1, "tenant": 1}
    assert batch.context.erased_dropped == 4
    assert not batch.dead


def test_without_erased_subjects_nothing_is_hashed_or_dropped() -> None:
    calls = []
    erased = ErasedSubjects(SALT, lambda: calls.append(1) or [])
    batch = Pipeline(erased=erased).process(_raws([raw(i) for i in range(5)]))
    assert len(batch.events) == 5 and not erased.dropped and calls == [1]


def test_the_set_is_reloaded_and_a_failed_reload_keeps_the_previous_one() -> None:
    now = [0.0]
    loads: list[Any] = [[("user", subject_hash(SALT, "user", "u1"), None)]]

    def loader() -> Any:
        item = loads.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    erased = ErasedSubjects(SALT, loader, refresh_s=10, clock=lambda: now[0])
    row = event_row(event(1))
    assert erased.drop_indexes([row]) == {0}
    loads.append(RuntimeError("store down"))
    now[0] = 11
    assert erased.drop_indexes([row]) == {0}  # kept
    loads.append([])
    now[0] = 22
    assert erased.drop_indexes([row]) == set()


async def test_erase_then_replay_drops_the_subjects_events(store_client: Any, store_database: str) -> None:
    db, client = store_database, store_client
    writer = BatchWriter(client, "events", database=db, batch_rows=100, flush_interval_s=60)
    writer.add([event_row(event(i)) for i in range(14)])
    writer.flush()
    report = Eraser(client, db, salt=SALT, drop_horizon_days=3).erase(
        Selector("user", "u2"), requested_by="t"
    )
    assert report.counts["events"] == 2

    erased = ErasedSubjects(SALT, store_loader(client, db))
    metrics = WorkerMetrics()
    sink = Sink(client, database=db, metrics=metrics)
    batch = Pipeline(erased=erased).process(_raws([raw(i) for i in range(14)]))  # the replay
    assert await sink.store(batch)
    users = {r[0] for r in client.query(f"SELECT DISTINCT user_id FROM {db}.events_dedup").result_rows}
    assert "u2" not in users and len(users) == 6
    assert metrics.events.labels("erased")._value.get() == 2


def test_for_settings_warns_when_a_server_deployment_has_no_shared_salt(tmp_path, caplog) -> None:
    from lightkeeper.processors.erased import for_settings
    from lightkeeper.settings import LightkeeperSettings

    server = LightkeeperSettings.load(None, store__url="http://clickhouse:8123", data_dir=tmp_path)
    with caplog.at_level("WARNING"):
        assert for_settings(server, client=None) is not None
    assert "privacy.erasure_salt is not set" in caplog.text
    caplog.clear()
    salted = LightkeeperSettings.load(
        None, store__url="http://clickhouse:8123", data_dir=tmp_path, privacy__erasure_salt="s3cret-salt"
    )
    with caplog.at_level("WARNING"):
        filt = for_settings(salted, client=None)
    assert filt is not None and filt.salt == b"s3cret-salt" and not caplog.text
    off = LightkeeperSettings.load(None, data_dir=tmp_path, privacy__erased_drop_days=0)
    assert for_settings(off, client=None) is None
