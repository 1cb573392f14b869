"""The read-only SQL endpoint of ``lightkeeper up``, and its client for ``lightkeeper sql``.

chdb lets ONE process open an embedded data directory, so while ``lightkeeper up`` runs,
``lightkeeper sql`` cannot open the store itself. The runtime therefore serves queries on
loopback::

    POST http://127.0.0.1:<port>/v1/sql
    Authorization: Bearer <token>
    {"query": "SELECT ... {app:String}", "parameters": {"app": "x"}, "format": "table|csv|json|parquet",
     "max_width": 60, "database": "lightkeeper"}

The token is random per start; it is written with the port into ``<data_dir>/runtime.json``
(mode 0600, removed at stop), which ``lightkeeper sql`` reads when it finds the store locked.

Answers: ``200`` with the formatted result (the same formatters as a local ``lightkeeper sql``;
headers ``X-Lightkeeper-Rows`` and ``X-Lightkeeper-Truncated``), ``400`` bad request or failed
query (including the engine's refusals and its time limit), ``401`` missing/wrong token, ``403``
not a single read statement inside the store, ``429`` every query slot busy, ``503`` store
unavailable or stopping; error bodies are ``{"error": ..., "kind": ...}``.

Queries run on separate sessions (:func:`lightkeeper.store.client.connect_readonly`), never on
the runtime's shared client: ``readonly=1`` after fixed :class:`QueryLimits` (time, result rows
and bytes, memory, threads), so the engine refuses writes, ``SETTINGS`` clauses and table
functions reaching outside the store. Before that, :func:`check_read_only` (lexical) and
:func:`check_syntax_tree` (on the engine's ``EXPLAIN AST``) refuse anything but one read
statement and every function that reaches files, the network, programs or dictionaries.
User values travel as server-side ``{name:Type}`` parameters. Answers are formatted block by
block within ``max_rows`` rows and ``max_result_bytes`` bytes. Up to ``max_concurrent`` queries
run at once, each on its own session in a worker thread, so a slow one holds up neither other
queries nor ingestion; ``stop()`` cancels running queries (``KILL QUERY``) instead of waiting.
Every request with a query, and every 401, is recorded in ``audit_queries``
(:mod:`lightkeeper.store.audit`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from lightkeeper.errors import ConfigError, StoreError, StoreUnavailable
from lightkeeper.runtime._sql_client import (
    RUNTIME_FILE,
    RuntimeInfo,
    _Scalar,
    find_runtime,
    query_runtime,
    read_runtime_file,
    write_runtime_file,
)
from lightkeeper.runtime._sql_guard import QueryRefused, check_read_only, check_syntax_tree, check_tenant_tree
from lightkeeper.runtime._sql_results import Answer, stream_answer
from lightkeeper.runtime.sql_tokens import SqlToken, tenant_filters
from lightkeeper.store.audit import QueryAudit, outcome_of, record, token_id
from lightkeeper.store.client import QueryLimits, chdb_path, check_identifier

log = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "RUNTIME_FILE",
    "QueryEndpoint",
    "RuntimeInfo",
    "find_runtime",
    "query_runtime",
    "read_runtime_file",
    "write_runtime_file",
]

FORMATS = ("table", "csv", "json", "parquet")
_CONTENT_TYPES = {
    "table": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}
_MAX_REQUEST_BYTES = 256 * 1024


class QueryEndpoint:
    """Serves ``POST /v1/sql`` for the embedded store at ``store_url``.

    ``start()`` binds ``host:port`` (0: a free port), writes ``<data_dir>/runtime.json``;
    ``stop()`` cancels running queries, closes the server and the sessions, removes the file."""

    def __init__(
        self,
        store_url: str,
        database: str,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_rows: int = 100_000,
        max_execution_s: int = 60,
        max_result_bytes: int = 64 * 1024 * 1024,
        max_memory_bytes: int = 2 * 1024**3,
        max_threads: int = 2,
        max_concurrent: int = 4,
        queue_wait_s: float = 10.0,
        tokens: Sequence[SqlToken] = (),
    ) -> None:
        self.store_url = store_url
        self.database = check_identifier(database)
        self.data_dir = Path(data_dir)
        self.host = host
        self.requested_port = port
        self.max_rows = max_rows
        self.max_result_bytes = max_result_bytes
        self.limits = QueryLimits(
            max_execution_s=max_execution_s,
            max_result_rows=max_rows + 1,
            max_result_bytes=max_result_bytes,
            max_memory_bytes=max_memory_bytes,
            max_threads=max_threads,
        )
        self.queue_wait_s = queue_wait_s
        self.token = secrets.token_urlsafe(32)
        self.port: int | None = None
        self.queries = 0
        self.refused = 0
        # Every query this endpoint runs starts with this comment: stop() kills them by it.
        self._marker = f"/* lightkeeper-sql {secrets.token_hex(8)} */\n"
        self._idle: dict[tuple[str, str | None], list[Any]] = {}
        self._pool_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._running = 0
        self._stopping = False
        self.principal = "runtime"
        self.token_id = token_id(self.token)
        self.tokens = [SqlToken("runtime", hashlib.sha256(self.token.encode()).hexdigest()), *tokens]
        self._audit_writes: set[asyncio.Future[None]] = set()
        self._runner: web.AppRunner | None = None

    @property
    def runtime_file(self) -> Path:
        return self.data_dir / RUNTIME_FILE

    async def start(self) -> int:
        """Bind and publish the runtime file; returns the port."""
        app = web.Application(client_max_size=_MAX_REQUEST_BYTES)
        app.router.add_post("/v1/sql", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        info = RuntimeInfo(
            pid=os.getpid(),
            host=self.host,
            port=self.port,
            token=self.token,
            store_path=chdb_path(self.store_url) or self.store_url,
            database=self.database,
            started_at=time.time(),
        )
        try:
            write_runtime_file(self.runtime_file, info)
        except OSError:
            await self.stop()
            raise
        log.info(
            "read-only SQL endpoint on http://%s:%s/v1/sql (token in %s)",
            self.host,
            self.port,
            self.runtime_file,
        )
        return self.port

    async def stop(self) -> None:
        """Cancel running queries, stop serving, remove the runtime file if it is still ours,
        close the sessions."""
        self._stopping = True
        if self._running:
            await asyncio.to_thread(self._kill_running)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._audit_writes:
            await asyncio.wait(set(self._audit_writes), timeout=10)
        current = read_runtime_file(self.runtime_file)
        if current is not None and current.token == self.token:
            self.runtime_file.unlink(missing_ok=True)
        async with self._pool_lock:
            idle, self._idle = self._idle, {}
        for clients in idle.values():
            for client in clients:
                _close(client)

    def _kill_running(self) -> None:
        """``KILL QUERY`` every query of this endpoint still running (found by its marker)."""
        from lightkeeper.store import connect

        try:
            control = connect(self.store_url, self.database)  # the runtime's shared client
            control.command(
                "KILL QUERY WHERE startsWith(query, {marker:String}) ASYNC",
                parameters={"marker": self._marker},
            )
        except Exception:
            log.warning("could not cancel running SQL endpoint queries", exc_info=True)

    # request handling ---------------------------------------------------------------------
    def authorized(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries a token of this endpoint."""
        return self.token_of(header) is not None

    def token_of(self, header: str | None) -> SqlToken | None:
        """The token an ``Authorization: Bearer`` header carries: the per-start token (name
        ``runtime``, all tenants) or a named one; None when missing or unknown."""
        if not header or not header.startswith("Bearer "):
            return None
        presented = header[len("Bearer ") :].strip()
        matches = [t for t in self.tokens if t.matches(presented)]  # every hash compared
        return matches[0] if matches else None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        audit = QueryAudit("endpoint", self.principal, self.database, "", "ok", token_id=self.token_id)
        response = await self._answer(request, audit)
        audit.duration_ms = (time.monotonic() - started) * 1000
        if audit.query or audit.outcome != "ok":
            self._record(audit)
        return response

    async def _answer(self, request: web.Request, audit: QueryAudit) -> web.StreamResponse:
        token = self.token_of(request.headers.get("Authorization"))
        if token is None:
            audit.principal, audit.token_id, audit.outcome = "", "", "unauthorized"
            return _error(401, "unauthorized", "missing or wrong bearer token", auth=True)
        audit.principal, audit.token_id = token.name, token.token_sha256[:16]
        audit.tenant = token.tenant or ""
        try:
            body = orjson.loads(await request.read())
            if isinstance(body, dict) and isinstance(body.get("query"), str):
                audit.query = body["query"]
            query, params, fmt, max_width, database = _parse_request(body, self.database)
            audit.database, audit.fmt, audit.parameter_names = database, fmt, list(params)
            query = check_read_only(query)
            if token.tenant is not None and database != self.database:
                raise QueryRefused(f"tenant-scoped token: only the {self.database} database")
        except QueryRefused as exc:
            return self._refuse(audit, exc)
        except (orjson.JSONDecodeError, ConfigError, ValueError, TypeError) as exc:
            audit.outcome, audit.error = "failed", str(exc)
            return _error(400, "bad_request", str(exc))
        if self._stopping:
            audit.outcome = "unavailable"
            return _error(503, "store_unavailable", "the runtime is stopping")
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_wait_s)
        except TimeoutError:
            audit.outcome = "busy"
            return _error(429, "busy", f"every query slot is busy for {self.queue_wait_s:g}s; retry later")
        self._running += 1
        try:
            pool = (database, token.tenant)
            client = await self._session(pool)
            try:
                answer = await asyncio.to_thread(
                    self._run, client, query, params, fmt, max_width, token.tenant, database
                )
            finally:
                await self._give_back(pool, client)
        except QueryRefused as exc:
            return self._refuse(audit, exc)
        except StoreUnavailable as exc:
            audit.outcome, audit.error = "unavailable", str(exc)
            return _error(503, "store_unavailable", str(exc))
        except StoreError as exc:
            audit.outcome, audit.error = outcome_of(str(exc)), str(exc)
            return _error(400, "query_failed", str(exc))
        finally:
            self._running -= 1
            self._slots.release()
        self.queries += 1
        audit.rows, audit.bytes, audit.truncated = answer.rows, len(answer.body), answer.truncated
        return web.Response(
            body=answer.body,
            headers={
                "Content-Type": _CONTENT_TYPES[fmt],
                "X-Lightkeeper-Rows": str(answer.rows),
                "X-Lightkeeper-Truncated": "1" if answer.truncated else "0",
            },
        )

    def _refuse(self, audit: QueryAudit, exc: QueryRefused) -> web.Response:
        self.refused += 1
        audit.outcome, audit.error = "refused", str(exc)
        return _error(403, "refused", str(exc))

    def _record(self, audit: QueryAudit) -> None:
        """Write the audit row in the background (the runtime's shared client); a failed write
        is logged with the query's hash, the answer is not held back."""

        def write() -> None:
            from lightkeeper.store import connect

            try:
                record(connect(self.store_url, self.database), self.database, [audit])
            except Exception as exc:
                log.warning("audit row for query %s not written: %s", audit.query_id, exc)

        task = asyncio.ensure_future(asyncio.to_thread(write))
        self._audit_writes.add(task)
        task.add_done_callback(self._audit_writes.discard)

    async def _session(self, pool: tuple[str, str | None]) -> Any:
        """An idle read-only session for (database, tenant), or a new one (one per running
        query); a tenant's sessions filter its rows in the engine."""
        async with self._pool_lock:
            idle = self._idle.get(pool)
            if idle:
                return idle.pop()
        from lightkeeper.store.client import connect_readonly

        database, tenant = pool
        filters = None if tenant is None else tenant_filters(database, tenant)
        return await asyncio.to_thread(connect_readonly, self.store_url, database, self.limits, filters)

    async def _give_back(self, pool: tuple[str, str | None], client: Any) -> None:
        async with self._pool_lock:
            if not self._stopping:
                self._idle.setdefault(pool, []).append(client)
                return
        _close(client)

    def _run(
        self,
        client: Any,
        query: str,
        params: dict[str, Any],
        fmt: str,
        max_width: int,
        tenant: str | None = None,
        database: str = "",
    ) -> Answer:
        marked = self._marker + query
        try:
            tree = client.query(f"{self._marker}EXPLAIN AST {query}", parameters=params or None)
        except Exception as exc:
            raise StoreError(f"query failed: {exc}") from exc
        lines = [str(row[0]) for row in tree.result_rows]
        check_syntax_tree(lines)
        if tenant is not None:
            names = client.query(
                "SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": database}
            ).result_rows
            check_tenant_tree(lines, database, {str(row[0]) for row in names})
        return stream_answer(
            client,
            marked,
            params,
            fmt,
            max_rows=self.max_rows,
            max_bytes=self.max_result_bytes,
            max_width=max_width,
            stream=lines[0].startswith(("SelectWithUnionQuery", "SelectIntersectExceptQuery")),
        )


def _close(client: Any) -> None:
    try:
        client.close()
    except Exception:  # pragma: no cover - best effort
        log.debug("closing a read-only session failed", exc_info=True)


def _parse_request(body: Any, default_database: str) -> tuple[str, dict[str, _Scalar], str, int, str]:
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object with 'query'")
    unknown = set(body) - {"query", "parameters", "format", "max_width", "database"}
    if unknown:
        raise ValueError(f"unknown request fields: {', '.join(sorted(unknown))}")
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ValueError("'query' must be a non-empty string")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise ValueError("'parameters' must be an object of name -> value")
    for name, value in params.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"parameter name {name!r} must be a plain identifier")
        if not isinstance(value, str | int | float | bool) and value is not None:
            raise ValueError(f"parameter {name!r} must be a string, number, boolean or null")
    fmt = body.get("format") or "json"
    if fmt not in FORMATS:
        raise ValueError(f"'format' must be one of {', '.join(FORMATS)}")
    max_width = body.get("max_width", 60)
    if not isinstance(max_width, int) or isinstance(max_width, bool) or not 4 <= max_width <= 10_000:
        raise ValueError("'max_width' must be an integer between 4 and 10000")
    database = check_identifier(body.get("database") or default_database)
    return query, params, fmt, max_width, database


def _error(status: int, kind: str, message: str, *, auth: bool = False) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="lightkeeper"'} if auth else None
    return web.json_response({"error": message, "kind": kind}, status=status, headers=headers)
