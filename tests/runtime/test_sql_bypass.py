"""Attempts to read files, fetch URLs or run programs through the read-only SQL endpoint.

Every query here must be refused (403 by the engine-parsed check, or 400 from the engine's
``readonly=1`` session) without the secret file's content or a request to the local HTTP
server ever happening, however the function name is quoted, cased, escaped or wrapped."""

from __future__ import annotations

import asyncio
import http.server
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import orjson
import pytest

from lightkeeper.cli.main import main
from lightkeeper.runtime.query_endpoint import QueryEndpoint

SECRET = f"lk-secret-{uuid.uuid4().hex}"


class _Hits(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = f"{SECRET}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("secret") / "secret.csv"
    path.write_text(f"{SECRET},x\n1,2\n")
    return str(path)


@pytest.fixture
async def endpoint(tmp_path: Path, store_url: str, store_database: str) -> AsyncIterator[QueryEndpoint]:
    ep = QueryEndpoint(store_url, store_database, tmp_path, max_execution_s=10)
    await ep.start()
    try:
        yield ep
    finally:
        await ep.stop()


def _attempts(path: str, url: str) -> list[str]:
    f = f"'{path}'"
    u = f"'{url}/x'"
    return [
        # quoting and case
        f"SELECT * FROM `file`({f}, 'LineAsString')",
        f"SELECT * FROM \"file\"({f}, 'LineAsString')",
        f"SELECT `file`({f})",
        f'SELECT "file"({f})',
        f"SELECT file({f})",
        f"SELECT FILE({f})",
        f"SELECT * FROM `FILE`({f}, 'LineAsString')",
        f"SELECT `\\x66ile`({f})",
        f"SELECT `fi\\x6Ce`({f})",
        f'SELECT "\\x66ile"({f})',
        # comments and whitespace between the name and '('
        f"SELECT * FROM file/**/({f}, 'LineAsString')",
        f"SELECT * FROM `file` /* x */ ({f}, 'LineAsString')",
        f"SELECT * FROM `file` -- x\n({f}, 'LineAsString')",
        f"SELECT `file`\n\t({f})",
        # unicode look-alikes and invisible characters
        f"SELECT ｆｉｌｅ({f})",
        f"SELECT `fi\u200ble`({f})",
        f"SELECT `file\u00a0`({f})",
        # DESCRIBE / EXPLAIN infer a schema by reading the file or fetching the URL
        f"DESCRIBE TABLE `file`({f}, 'CSVWithNames')",
        f"DESC file({f}, 'CSVWithNames')",
        f"DESCRIBE `url`({u}, 'CSVWithNames')",
        f"DESCRIBE TABLE (SELECT `file`({f}))",
        f"EXPLAIN SELECT * FROM `file`({f}, 'LineAsString')",
        f"EXPLAIN ESTIMATE SELECT * FROM `file`({f}, 'LineAsString')",
        f"EXPLAIN SYNTAX SELECT `file`({f})",
        f"EXPLAIN PIPELINE SELECT * FROM `url`({u}, 'LineAsString')",
        # SETTINGS
        f"SELECT * FROM `file`({f}, 'LineAsString') SETTINGS readonly = 0",
        f"SELECT `file`({f}) SETTINGS readonly = 2",
        "SELECT 1 SETTINGS readonly = 0",
        # WITH, subqueries, views, unions, lambdas
        f"WITH (SELECT `file`({f})) AS s SELECT s",
        f"WITH t AS (SELECT * FROM `file`({f}, 'LineAsString')) SELECT * FROM t",
        f"WITH `file`({f}) AS s SELECT s",
        f"SELECT * FROM view(SELECT `file`({f}))",
        f"SELECT * FROM (SELECT `file`({f}) AS s)",
        f"SELECT 1 WHERE 'x' NOT IN (SELECT `file`({f}))",
        f"SELECT 1 UNION ALL SELECT length(`file`({f}))",
        f"SELECT arrayMap(x -> `file`(x), [{f}])",
        f"SELECT * FROM numbers(1) AS n JOIN (SELECT `file`({f}) AS s) AS t ON 1",
        # other ways out: network, programs, dictionaries, input, other stores
        f"SELECT * FROM `url`({u}, 'LineAsString')",
        f"SELECT * FROM \"URL\"({u}, 'LineAsString')",
        f"SELECT * FROM `s3`({u}, 'LineAsString')",
        "SELECT * FROM `remote`('127.0.0.1', system.one)",
        "SELECT * FROM `remoteSecure`('127.0.0.1', system.one)",
        "SELECT * FROM `cluster`('default', system.one)",
        f"SELECT * FROM `executable`('cat {path}', 'LineAsString', 'line String')",
        "SELECT * FROM `input`('a String')",
        "SELECT * FROM `dictionary`('lk_dict')",
        "SELECT `dictGet`('lk_dict', 'v', toUInt64(1))",
        "SELECT dictGetOrDefault('lk_dict', 'v', toUInt64(1), 'x')",
        "SELECT * FROM `mysql`('127.0.0.1:9', 'db', 't', 'u', 'p')",
        f"SELECT * FROM `hdfs`({u}, 'LineAsString')",
        f"SELECT * FROM `azureBlobStorage`({u}, 'c', 'b')",
        f"SELECT * FROM `urlCluster`('default', {u}, 'LineAsString')",
        f"SELECT * FROM `fileCluster`('default', {f}, 'LineAsString')",
        # writing or changing anything
        f"SELECT 1 INTO OUTFILE {f}",
        "KILL QUERY WHERE 1",
        "CREATE VIEW v AS SELECT 1",
        "SET readonly = 0",
        "SYSTEM RELOAD DICTIONARIES",
    ]


def _ids() -> list[str]:
    return [str(i) for i in range(len(_attempts("p", "u")))]


@pytest.mark.parametrize("index", range(len(_attempts("p", "u"))), ids=_ids())
async def test_no_way_out_of_the_store(
    endpoint: QueryEndpoint, secret_file: str, http_server: str, index: int
) -> None:
    query = _attempts(secret_file, http_server)[index]
    before = len(_Hits.hits)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{endpoint.port}/v1/sql",
            data=orjson.dumps({"query": query, "format": "csv"}),
            headers={"Authorization": f"Bearer {endpoint.token}"},
        ) as resp,
    ):
        status, body = resp.status, await resp.read()
    assert status in (400, 403), (query, status, body)
    assert SECRET.encode() not in body, (query, body)
    assert orjson.loads(body)["kind"] in ("refused", "query_failed"), body
    await asyncio.sleep(0.05)
    assert len(_Hits.hits) == before, (query, _Hits.hits)


async def test_store_tables_and_safe_table_functions_still_work(endpoint: QueryEndpoint) -> None:
    """The checks refuse ways out, not ordinary analytics."""
    for query in (
        "SELECT count() FROM events_dedup",
        "SELECT number FROM numbers(3) WHERE number IN (SELECT 1)",
        "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
        "SELECT 'file(/etc/passwd)' AS profile, `file_name` FROM (SELECT 'a' AS `file_name`)",
        "SELECT arrayMap(x -> x * 2, [1, 2]) AS a",
        "DESCRIBE TABLE events",
        "EXPLAIN SELECT count() FROM events_dedup",
        "SHOW TABLES",
        "EXISTS TABLE events",
    ):
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{endpoint.port}/v1/sql",
                data=orjson.dumps({"query": query}),
                headers={"Authorization": f"Bearer {endpoint.token}"},
            ) as resp,
        ):
            assert resp.status == 200, (query, await resp.read())


def test_local_sql_read_only_session_blocks_table_functions(
    store_url: str, store_database: str, secret_file: str, http_server: str, capsys: Any
) -> None:
    """`lightkeeper sql` without --write opens the store itself with the same engine settings."""
    before = len(_Hits.hits)
    for query in (
        f"SELECT * FROM `file`('{secret_file}', 'LineAsString')",
        f"SELECT * FROM `url`('{http_server}/x', 'LineAsString')",
        "SELECT count() FROM numbers(10) SETTINGS max_execution_time = 0",
    ):
        rc = main(["sql", query, "--url", store_url, "--database", store_database, "--format", "csv"])
        captured = capsys.readouterr()
        assert rc == 1 and SECRET not in captured.out, (query, captured)
        assert "readonly" in captured.err.lower() or "refused" in captured.err.lower(), captured.err
    assert len(_Hits.hits) == before
