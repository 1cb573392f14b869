"""Every query of docs/sql.md runs against the data the demo leaves behind."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

COOKBOOK = Path(__file__).resolve().parents[2] / "docs" / "sql.md"
QUERIES = re.findall(r"^### (\d+)\. (.+?)\n.*?```sql\n(.*?)```", COOKBOOK.read_text(), re.S | re.M)

#: Questions the demo's traffic is built to answer (it plans every incident even in short runs),
#: so their queries must return rows, not only parse.
MUST_HAVE_ROWS = {1, 2, 3, 5, 6, 8, 9, 10, 11, 12, 13, 14, 17, 18, 19, 20, 21, 22, 23, 24}


def test_the_cookbook_has_at_least_15_questions() -> None:
    assert len(QUERIES) >= 15
    assert [int(n) for n, _, _ in QUERIES] == list(range(1, len(QUERIES) + 1))


@pytest.fixture(scope="module")
def demo_store(demo_filled_store: tuple[Any, str]) -> Any:
    return demo_filled_store[0]


@pytest.mark.parametrize(("number", "question", "sql"), QUERIES, ids=[f"q{n}" for n, _, _ in QUERIES])
def test_cookbook_query_runs_on_demo_data(demo_store: Any, number: str, question: str, sql: str) -> None:
    result = demo_store.query(sql, parameters={"app": _busiest_app(demo_store)})
    if int(number) in MUST_HAVE_ROWS:
        assert result.result_rows, f"query {number} ({question}) returned no rows on demo data"


def _busiest_app(client: Any) -> str:
    rows = client.query("SELECT app FROM events_dedup GROUP BY app ORDER BY count() DESC LIMIT 1").result_rows
    return str(rows[0][0]) if rows else ""
