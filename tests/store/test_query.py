"""Parameterized queries resist injection through labels; result formatting."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import orjson
import pytest
from _store_events import BASE, make_event

from lightkeeper.errors import StoreError
from lightkeeper.schemas.rows import event_row
from lightkeeper.store.query import (
    QueryResult,
    event_count,
    format_csv,
    format_json,
    format_table,
    rollup,
    run_query,
)
from lightkeeper.store.writer import BatchWriter

EVIL = "x' OR 1=1 --"


@pytest.fixture
def loaded(store_client, store_database):
    rows = [event_row(make_event(i, app="chat")) for i in range(5)]
    rows += [event_row(make_event(i, app=EVIL)) for i in range(2)]
    rows += [event_row(make_event(i, app="it's {app:String}")) for i in range(3)]
    BatchWriter(store_client, "events", database=store_database).write(rows)
    return store_client, store_database


def test_labels_cannot_inject(loaded):
    client, db = loaded
    assert event_count(client, db) == 10
    assert event_count(client, db, app=EVIL) == 2
    assert event_count(client, db, app="x") == 0
    assert event_count(client, db, app="it's {app:String}") == 3
    assert event_count(client, db, app="chat' --") == 0
    result = run_query(
        client, f"SELECT DISTINCT app FROM {db}.events WHERE app = {{app:String}}", {"app": EVIL}
    )
    assert result.rows == [(EVIL,)]


def test_rollup_helper_filters_by_parameters(loaded):
    client, db = loaded
    since, until = BASE - timedelta(hours=1), BASE + timedelta(hours=1)
    rows = rollup(client, db, since=since, until=until, app=EVIL)
    assert [r["app"] for r in rows] == [EVIL] and rows[0]["requests"] == 2
    assert sum(r["requests"] for r in rollup(client, db, since=since, until=until)) == 10
    assert rollup(client, db, since=since, until=until, model="nope") == []
    assert rollup(client, db, since=until, until=until + timedelta(hours=1)) == []


def test_event_count_since(loaded):
    client, db = loaded
    assert event_count(client, db, since=BASE + timedelta(seconds=3)) == 2  # chat events 3 and 4


def test_bad_query_is_a_store_error(store_client):
    with pytest.raises(StoreError, match=r"UNKNOWN_TABLE|Unknown table"):
        run_query(store_client, "SELECT * FROM no_such_table_here")


def test_formats():
    result = QueryResult(
        ["name", "n", "cost", "tags"],
        ["String", "UInt64", "Nullable(Decimal(18, 9))", "Map(String, String)"],
        [("a,b", 3, Decimal("0.000000001"), {"k": "v"}), ("long" * 30, 12345, None, {})],
    )
    table = format_table(result, max_width=20).splitlines()
    assert table[0].split(" | ")[0].strip() == "name"
    assert table[2].startswith("a,b ") and table[2].split(" | ")[1].strip() == "3"
    assert "…" in table[3] and "NULL" in table[3]
    seps = [i for i, ch in enumerate(table[1]) if ch == "+"]
    assert all(line[i] == "|" for line in (table[0], table[2]) for i in seps)  # columns align
    assert table[-1] == "(2 rows)"
    csv_lines = format_csv(result).splitlines()
    assert csv_lines[0] == "name,n,cost,tags" and csv_lines[1].startswith('"a,b",3,0.000000001,')
    data = orjson.loads(format_json(result))
    assert data[0] == {"name": "a,b", "n": 3, "cost": "0.000000001", "tags": {"k": "v"}}
    assert data[1]["cost"] is None
