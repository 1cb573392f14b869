"""The audit of reads (``audit_queries``, migration 0005): every query through the SQL endpoint
and every `lightkeeper sql` run leaves one row — who, when, the redacted query and its hash,
parameter names (not values), outcome, rows, bytes, duration — refused and failed ones too."""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from lightkeeper.cli.main import main
from lightkeeper.runtime.query_endpoint import QueryEndpoint
from lightkeeper.store.audit import query_hash, redact_query, token_id

EMAIL = "jane.doe@example.org"


def _audit_rows(client: Any, database: str) -> list[dict[str, Any]]:
    result = client.query(f"SELECT * FROM {database}.audit_queries_dedup ORDER BY queried_at")
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


async def _post(endpoint: QueryEndpoint, body: dict[str, Any], token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token if token is not None else endpoint.token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{endpoint.port}/v1/sql", data=orjson.dumps(body), headers=headers
        ) as resp,
    ):
        await resp.read()
        return resp.status


async def test_every_endpoint_query_is_audited(
    tmp_path: Path, store_url: str, store_database: str, store_client: Any
) -> None:
    endpoint = QueryEndpoint(store_url, store_database, tmp_path, max_execution_s=1)
    await endpoint.start()
    try:
        ok = f"SELECT number FROM numbers(7) WHERE '{EMAIL}' != {{who:String}}"
        assert await _post(endpoint, {"query": ok, "parameters": {"who": "secret-param-value"}}) == 200
        assert await _post(endpoint, {"query": f"SELECT `file`('/etc/passwd') AS '{EMAIL}'"}) == 403
        assert await _post(endpoint, {"query": "SELECT * FROM no_such_table"}) == 400
        assert await _post(endpoint, {"query": "SELECT count() FROM numbers(1e12)"}) == 400
        assert await _post(endpoint, {"query": "SELECT 1"}, token="wrong") == 401
    finally:
        await endpoint.stop()  # waits for the audit writes

    rows = _audit_rows(store_client, store_database)
    assert [r["outcome"] for r in rows] == ["ok", "refused", "failed", "timeout", "unauthorized"]
    assert [r["refused"] for r in rows] == [0, 1, 0, 0, 1]
    first = rows[0]
    assert first["source"] == "endpoint" and first["principal"] == "runtime"
    assert first["token_id"] == token_id(endpoint.token) and first["rows_returned"] == 7
    assert first["bytes_returned"] > 0 and first["format"] == "json" and first["duration_ms"] > 0
    assert first["parameter_names"] == ["who"]
    assert first["query_text"] == "SELECT number FROM numbers(7) WHERE '?' != {who:String}"
    assert first["query_hash"] == query_hash(ok) and len(first["query_hash"]) == 64
    assert "file() reaches outside the store" in rows[1]["error"]
    assert "TIMEOUT_EXCEEDED" in rows[3]["error"]
    assert rows[4]["principal"] == "" and rows[4]["token_id"] == ""
    dump = orjson.dumps(rows, default=str).decode()
    for secret in (EMAIL, "secret-param-value", endpoint.token):
        assert secret not in dump


def test_every_sql_run_is_audited(
    store_url: str, store_database: str, store_client: Any, capsys: Any
) -> None:
    base = ["--url", store_url, "--database", store_database, "--format", "csv"]
    query = "SELECT count() AS n FROM events_dedup WHERE app = {app:String}"
    assert main(["sql", query, "--param", f"app={EMAIL}", *base]) == 0
    assert main(["sql", "SELECT * FROM `url`('http://127.0.0.1:9/x', 'LineAsString')", *base]) == 1
    capsys.readouterr()
    rows = _audit_rows(store_client, store_database)
    assert [(r["source"], r["outcome"]) for r in rows] == [("cli", "ok"), ("cli", "refused")]
    assert {r["principal"] for r in rows} == {f"local:{getpass.getuser()}"}
    assert rows[0]["rows_returned"] == 1 and rows[0]["parameter_names"] == ["app"]
    assert rows[0]["query_text"] == query and EMAIL not in orjson.dumps(rows, default=str).decode()
    assert rows[1]["query_text"] == "SELECT * FROM `url`('?', '?')"


@pytest.mark.parametrize(
    ("sql", "redacted"),
    [
        ("SELECT 'a' AS x", "SELECT '?' AS x"),
        ("SELECT 'it''s', 'a\\'b' FROM t", "SELECT '?', '?' FROM t"),
        ("SELECT $$x'y$$, $t$ z $t$", "SELECT '?', '?'"),
        ('SELECT `col`, "c2" FROM t WHERE n = 42', 'SELECT `col`, "c2" FROM t WHERE n = 42'),
        ("SELECT 'never closed", "SELECT '?'"),
    ],
)
def test_redaction(sql: str, redacted: str) -> None:
    assert redact_query(sql) == redacted
    assert query_hash(sql) == hashlib.sha256(" ".join(redacted.split()).encode()).hexdigest()
