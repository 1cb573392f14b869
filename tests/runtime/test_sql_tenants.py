"""Named, tenant-scoped tokens of the SQL endpoint: a scoped token sees its tenant's events and
scores only — through views, joins, subqueries, WITH, view(), UNION — and everything that could
read around the engine's row filter (other tables, system tables, merge(), IN <table>, SETTINGS,
another database) is refused. Every query is audited under the token's name and tenant."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from lightkeeper.errors import ConfigError
from lightkeeper.runtime.query_endpoint import QueryEndpoint
from lightkeeper.runtime.sql_tokens import TOKENS_FILE, add_token, load_tokens
from lightkeeper.schemas.rows import event_row
from tests.worker.helpers import event


@pytest.fixture
async def scoped(
    tmp_path: Path, store_url: str, store_database: str, store_client: Any
) -> AsyncIterator[tuple[QueryEndpoint, str, str]]:
    """Events of tenants acme (3) and globex (4), with a score each; an endpoint with a token
    scoped to acme and an unscoped named one."""
    rows = [event_row(event(i, tenant="acme" if i < 3 else "globex", app="shared")) for i in range(7)]
    columns = list(rows[0])
    store_client.insert(f"{store_database}.events", [list(r.values()) for r in rows], column_names=columns)
    store_client.insert(
        f"{store_database}.scores",
        [[r["event_id"], "toxicity_response", 0.5, 0, r["start_time"], r["start_time"]] for r in rows],
        column_names=["event_id", "detector", "score", "flagged", "event_time", "scored_at"],
    )
    tokens_file = tmp_path / TOKENS_FILE
    acme = add_token(tokens_file, "acme-reader", tenant="acme")
    ops = add_token(tokens_file, "ops")
    assert stat.S_IMODE(os.stat(tokens_file).st_mode) == 0o600
    assert acme not in tokens_file.read_text() and ops not in tokens_file.read_text()
    endpoint = QueryEndpoint(store_url, store_database, tmp_path, tokens=load_tokens(tokens_file))
    await endpoint.start()
    try:
        yield endpoint, acme, ops
    finally:
        await endpoint.stop()


async def _post(endpoint: QueryEndpoint, token: str, query: str, **extra: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{endpoint.port}/v1/sql",
            data=orjson.dumps({"query": query, **extra}),
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        return resp.status, orjson.loads(await resp.read())


SEES_ONLY_ACME = [
    ("SELECT DISTINCT tenant AS v FROM events", ["acme"]),
    ("SELECT DISTINCT tenant AS v FROM events_dedup", ["acme"]),
    ("SELECT count() AS v FROM {db}.events_dedup", [3]),
    ("SELECT count() AS v FROM `{db}`.`events`", [3]),
    ("SELECT count() AS v FROM scores_dedup", [3]),
    ("SELECT count() AS v FROM scores", [3]),
    (
        "SELECT DISTINCT e.tenant AS v FROM scores_dedup AS s INNER JOIN events_dedup AS e "
        "ON e.event_id = s.event_id",
        ["acme"],
    ),
    (
        "SELECT DISTINCT e.tenant AS v FROM scores AS s LEFT JOIN events AS e ON e.event_id = s.event_id",
        ["acme"],
    ),
    (
        "SELECT count() AS v FROM events WHERE event_id IN "
        "(SELECT event_id FROM events_dedup WHERE tenant = 'globex')",
        [0],
    ),
    ("WITH drift_dedup AS (SELECT 1) SELECT count() AS v FROM events", [3]),
    ("SELECT count() AS v FROM scores WHERE event_id NOT IN (SELECT event_id FROM events)", [0]),
    ("WITH g AS (SELECT * FROM events_dedup WHERE tenant = 'globex') SELECT count() AS v FROM g", [0]),
    ("WITH (SELECT count() FROM events WHERE tenant != 'acme') AS n SELECT n AS v", [0]),
    ("SELECT count() AS v FROM view(SELECT * FROM events_dedup)", [3]),
    ("SELECT count() AS v FROM (SELECT tenant FROM events UNION ALL SELECT tenant FROM events_dedup)", [6]),
    ("SELECT count() AS v FROM (SELECT * FROM events AS a, events AS b)", [9]),
    ("SELECT sum(number) AS v FROM numbers(4)", [6]),
]


@pytest.mark.parametrize(("query", "expected"), SEES_ONLY_ACME)
async def test_a_scoped_token_sees_its_tenant_only(
    scoped: tuple[QueryEndpoint, str, str], store_database: str, query: str, expected: list[Any]
) -> None:
    endpoint, acme, _ = scoped
    status, body = await _post(endpoint, acme, query.format(db=store_database))
    assert status == 200, body
    assert [row["v"] for row in body] == expected


READS_AROUND_THE_FILTER = [
    "SELECT * FROM merge('{db}', '^events$')",
    "SELECT * FROM merge(currentDatabase(), 'events')",
    "SELECT query FROM system.processes",
    "SELECT * FROM system.tables",
    "SELECT * FROM drift_dedup",
    "SELECT * FROM alerts_latest",
    "SELECT * FROM rollup_minute_v",
    "SELECT * FROM audit_queries",
    "SELECT * FROM {db}.anomalies",
    "WITH drift_dedup AS (SELECT 1) SELECT * FROM drift_dedup",
    "WITH x AS (SELECT 1) SELECT * FROM x, alerts",
    "SELECT 1 WHERE '00000000-0000-7000-8000-000000000005' IN events",
    "SELECT count() FROM events SETTINGS additional_table_filters = {{}}",
    "SELECT count() FROM events SETTINGS readonly = 0",
    "SHOW PROCESSLIST",
    "DESCRIBE TABLE events",
    "EXPLAIN SELECT * FROM events",
    "SELECT * FROM `file`('/etc/passwd', 'LineAsString')",
    "SELECT * FROM generateRandom('a String') LIMIT 1",
]


@pytest.mark.parametrize("query", READS_AROUND_THE_FILTER)
async def test_reads_around_the_filter_are_refused(
    scoped: tuple[QueryEndpoint, str, str], store_database: str, query: str
) -> None:
    endpoint, acme, _ = scoped
    status, body = await _post(endpoint, acme, query.format(db=store_database))
    assert status in (400, 403), (query, body)
    assert "globex" not in orjson.dumps(body).decode()


async def test_a_scoped_token_stays_in_its_database(scoped: tuple[QueryEndpoint, str, str]) -> None:
    endpoint, acme, _ = scoped
    status, body = await _post(endpoint, acme, "SELECT 1", database="system")
    assert status == 403 and "only the" in body["error"]


async def test_unscoped_tokens_see_every_tenant_and_queries_are_audited(
    scoped: tuple[QueryEndpoint, str, str], store_client: Any, store_database: str
) -> None:
    endpoint, acme, ops = scoped
    query = "SELECT tenant AS v FROM events_dedup GROUP BY tenant ORDER BY tenant"
    for token in (ops, endpoint.token):
        status, body = await _post(endpoint, token, query)
        assert status == 200 and [r["v"] for r in body] == ["acme", "globex"]
    status, _ = await _post(endpoint, acme, query)
    assert status == 200
    status, _ = await _post(endpoint, acme, "SELECT * FROM system.processes")
    assert status == 403
    await endpoint.stop()
    audited = store_client.query(
        f"SELECT principal, tenant, outcome FROM {store_database}.audit_queries_dedup ORDER BY queried_at"
    ).result_rows
    assert audited == [
        ("ops", "", "ok"),
        ("runtime", "", "ok"),
        ("acme-reader", "acme", "ok"),
        ("acme-reader", "acme", "refused"),
    ]


def test_token_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / TOKENS_FILE
    with pytest.raises(ConfigError, match="tenant"):
        add_token(path, "x", tenant="acme' OR 1=1")
    path.write_text('[{"name": "a", "token_sha256": "zz", "tenant": null}]')
    with pytest.raises(ConfigError, match="64-hex"):
        load_tokens(path)
    assert load_tokens(tmp_path / "missing.json") == []
