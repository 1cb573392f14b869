"""Pytest fixtures for the store.

chdb runs one engine per process, on ONE data directory (opening a second path in the same
process fails until every client is closed). So the test session shares one embedded store and
each test gets its own freshly migrated DATABASE in it:

* ``store_url`` (session): ``chdb:///<tmp>/store``, or ``$LIGHTKEEPER_TEST_STORE_URL`` to run the
  same tests against a ClickHouse server. Code under test that opens the store itself must use
  this URL (any other chdb path in the pytest process would fail).
* ``store_database`` (function): a unique database name, migrated, dropped after the test.
* ``store_client`` (function): a client whose default database is ``store_database``.
* ``store_settings`` (function): :class:`StoreSettings` pointing at both (small batches).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lightkeeper.settings import StoreSettings


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("LIGHTKEEPER_TEST_STORE_URL")
    if url:
        return url
    path: Path = tmp_path_factory.mktemp("chdb") / "store"
    return f"chdb://{path}"


@pytest.fixture
def store_database(store_url: str) -> Iterator[str]:
    from lightkeeper.store import connect
    from lightkeeper.store.client import release
    from lightkeeper.store.migrate import migrate

    name = f"lk_test_{uuid.uuid4().hex[:12]}"
    client = connect(store_url, name)
    migrate(client, name)
    yield name
    client.command(f"DROP DATABASE IF EXISTS {name} SYNC")
    release(store_url, name)


@pytest.fixture
def store_client(store_url: str, store_database: str) -> Any:
    from lightkeeper.store import connect

    return connect(store_url, store_database)


@pytest.fixture
def store_settings(store_url: str, store_database: str) -> StoreSettings:
    return StoreSettings(url=store_url, database=store_database, batch_rows=100, flush_interval_s=0.2)
