"""Whole-system fault tests, shortened versions of ``bench/reliability.py``'s scenarios:
agent (in process) -> private restartable Kafka broker -> ``lightkeeper worker`` subprocess ->
its embedded store, counted per proxied call in ``events_dedup``."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _support import chaos_scenarios as sc

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(180)]


@pytest.fixture
def work() -> Iterator[Path]:
    # brokers' data outside pytest's basetemp (see docs/kafka.md)
    with tempfile.TemporaryDirectory(prefix="lk-e2e-") as d:
        yield Path(d)


def _check(result: Any) -> None:
    print(result)
    assert result.app_failures == 0, result
    assert result.stored == result.sent and result.lost == 0 and result.duplicated == 0, result


async def test_kafka_broker_down_loses_nothing(work: Path) -> None:
    result = await sc.kafka_outage(work, down_s=10, rate=15, margin_s=3)
    _check(result)
    assert "spooled 0;" not in result.note  # the outage really happened while calls flowed


async def test_worker_sigkilled_mid_stream_loses_nothing(work: Path) -> None:
    result = await sc.worker_killed(work, rate=40, seconds=12, kill_after_s=6)
    _check(result)
    assert "during traffic" in result.note


async def test_spool_full_then_restart_counts_drops_exactly(work: Path) -> None:
    result = await sc.spool_full(work, calls=300, spool_max_bytes=64 * 1024)
    print(result)
    assert result.app_failures == 0 and result.duplicated == 0
    assert "MISMATCH" not in result.note and result.lost == 0, result
    assert 0 < result.stored < result.sent, "the spool must actually overflow"


async def test_store_refusing_writes_pauses_and_catches_up(
    work: Path, store_client: Any, store_database: str
) -> None:
    result = await sc.store_outage(work, store_client, store_database, down_s=6, rate=20, margin_s=2)
    _check(result)
    assert "paused: yes" in result.note and "refused inserts 0;" not in result.note


async def test_agent_sigkilled_during_kafka_outage_loses_at_most_a_second(work: Path) -> None:
    from _support.chaos_agent import agent_killed_in_outage

    result = await agent_killed_in_outage(work, rate=60, before_s=3, kill_after_s=4)
    print(result)
    assert result.sent > 200 and "SPOOL NOT REPLAYED" not in result.note, result
    assert result.lost <= result.lost_allowed, result  # before: every call of the outage's first 4 s
    assert result.duplicated == 0, result  # double writes (if any) are deduplicated by the store


async def test_spool_disk_full_is_not_ready_and_counts_every_drop(work: Path) -> None:
    from _support.chaos_agent import spool_disk_full

    result = await spool_disk_full(work, rate=80, seconds=5, tmpfs_kib=128)
    print(result)
    assert "MISMATCH" not in result.note and result.lost == 0 and result.app_failures == 0, result
    assert "dropped(counted) 0;" not in result.note, "the spool must actually fill"
    assert "503" in result.note.split("after replay")[0] and "0 tracebacks" in result.note, result
    lines = int(result.note.split(" drop log lines")[0].rsplit("; ", 1)[1])
    assert lines <= 3, result  # once per 10 s with the count, not one per batch
