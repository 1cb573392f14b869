"""The embedded runtime sizes its batches by the measured processing time per event, so slow
stages (scoring) do not hold thousands of events back until the whole batch is done."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from lightkeeper.agent.settings import AgentSettings
from lightkeeper.processors.pipeline import Batch
from lightkeeper.processors.settings import WorkerSettings
from lightkeeper.runtime import EmbeddedRuntime
from lightkeeper.runtime._batch_size import BatchSizer
from tests.worker.helpers import raw


def test_sizer_follows_time_per_event() -> None:
    sizer = BatchSizer(2000, 1.0, floor=16)
    assert sizer.next_size() == 16  # nothing measured yet
    sizer.observe(100, 1.0)  # 10 ms per event
    assert sizer.next_size() == 100
    for _ in range(30):
        sizer.observe(100, 0.01)  # 0.1 ms per event: capped at batch_max
    assert sizer.next_size() == 2000
    for _ in range(30):
        sizer.observe(10, 10.0)  # 1 s per event: never below the floor
    assert sizer.next_size() == 16
    with pytest.raises(ValueError):
        BatchSizer(0, 1.0)


def test_slow_insert_counts_per_batch_not_per_event() -> None:
    """0.6 s inserts against a 1 s target: batches keep about (1 - 0.5) / per-event events (the
    insert is budgeted at most half the target) instead of collapsing to the floor."""
    sizer = BatchSizer(2000, 1.0, floor=16, smoothing=1.0)
    sizer.observe(100, 0.2, 0.6)  # 2 ms per event of processing
    assert sizer.next_size() == 250
    sizer.observe(250, 0.5, 0.6)
    assert sizer.next_size() == 250
    sizer.observe(100, 0.2, 0.1)
    assert sizer.next_size() == 450


class SlowStage:
    """3 ms per event, like scoring on a small CPU."""

    name = "slow"

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def process(self, batch: Batch) -> None:
        self.sizes.append(len(batch.events))
        time.sleep(0.003 * len(batch.events))


async def test_backlog_is_stored_in_batches_that_fit_the_target(
    tmp_path: Path, store_url: str, store_database: str, store_client: Any
) -> None:
    agent = AgentSettings(
        host="127.0.0.1", port=0, ensure_topics=False, publish_enabled=False, data_dir=tmp_path
    )
    worker = WorkerSettings(
        data_dir=tmp_path,
        store={"url": store_url, "database": store_database},
        batch_within_s=0.05,
        batch_target_s=0.3,
        stages=[],
    )
    stage = SlowStage()
    runtime = EmbeddedRuntime(agent, worker, client=store_client, stages=[stage], query_port=None)
    stored_at: list[float] = []
    runtime.on_batch(lambda batch: stored_at.extend([time.monotonic()] * len(batch.events)))
    await runtime.start()
    try:
        t0 = time.monotonic()
        for i in range(600):
            runtime.queue.submit(None, raw(i))
        await runtime.wait_idle(60)
    finally:
        await runtime.stop()
    assert runtime.stored == 600
    # The first events of the backlog are queryable long before the last ones: the backlog was
    # not taken as one 600-event batch (1.8 s of stage time alone).
    assert max(stage.sizes) < 300, stage.sizes
    assert stored_at[0] - t0 < 0.9
