"""A store filled by the full demo (600 calls, every stage), shared by the whole test session.

``demo_filled_store`` yields ``(client, database)``; the client's default database is that
database. Tests may add rows to it but must not rely on being alone in it. Filling it costs one
demo run (about 30-60 s on 2 cores), paid once per session by the first test that asks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def demo_filled_store(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    from lightkeeper.demo import DemoOptions, run
    from lightkeeper.store import connect
    from lightkeeper.store.client import release
    from lightkeeper.store.migrate import migrate

    database = f"lk_demo_{uuid.uuid4().hex[:10]}"
    client = connect(store_url, database)
    migrate(client, database)
    options = DemoOptions(
        events=600,
        store_url=store_url,
        database=database,
        data_dir=tmp_path_factory.mktemp("demo"),
        latency_ms=5,
        progress=False,
    )
    asyncio.run(run(options, client=client))
    yield client, database
    client.command(f"DROP DATABASE IF EXISTS {database} SYNC")
    release(store_url, database)
