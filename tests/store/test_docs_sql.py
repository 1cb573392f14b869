"""The example SQL in docs/store.md runs against a migrated store."""

from __future__ import annotations

import re
from pathlib import Path

from _store_events import make_event

from lightkeeper.schemas.rows import event_row
from lightkeeper.store.writer import BatchWriter

DOC = Path(__file__).resolve().parents[2] / "docs" / "store.md"


def _examples() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    statements = [s.strip() for block in blocks for s in block.split(";")]
    return [s for s in statements if s and not all(ln.startswith("--") for ln in s.splitlines())]


def test_doc_examples_run(store_client, store_database):
    BatchWriter(store_client, "events", database=store_database).write(
        [event_row(make_event(i)) for i in range(5)]
    )
    examples = _examples()
    assert len(examples) >= 5
    for sql in examples:
        params = {"app": "chat"} if "{app:String}" in sql else None
        store_client.query(sql, parameters=params)  # raises on any error
