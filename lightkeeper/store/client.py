"""Connections to the store: the embedded chdb engine or a ClickHouse server, both through
clickhouse-connect (the one access path).

URLs:

* ``chdb:///abs/path`` (or ``chdb://relative/path``) - the embedded engine, data under ``path``.
  chdb runs ONE engine per process and locks its data directory against other processes, so
  :func:`connect` caches one client per (path, database) for the whole process.
* ``http(s)://user:password@host:port[/database]`` - a server; a new client each call.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lightkeeper.errors import ConfigError, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

_lock = threading.Lock()
_chdb_clients: dict[tuple[str, str], Any] = {}


def check_identifier(name: str, what: str = "database") -> str:
    """Return ``name`` if it is a plain identifier (letters, digits, underscore); identifiers are
    the only things ever put into SQL text, so anything else is refused."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ConfigError(f"invalid {what} name {name!r}: use letters, digits and underscores")
    return name


def chdb_path(url: str) -> str | None:
    """The data directory of a ``chdb://`` URL (absolute, normalized), else ``None``."""
    if not url.startswith("chdb://"):
        return None
    rest = url[len("chdb://") :]
    if rest in ("", ":memory:"):
        return ":memory:"
    return os.path.realpath(rest)


def connect(url: str, database: str = "lightkeeper") -> Any:
    """A clickhouse-connect client for ``url`` whose default database is ``database`` once it
    exists (before migration it is ``default``; every Lightkeeper query names the database).

    Raises :class:`StoreUnavailable` when the store cannot be reached or the embedded data
    directory is locked by another process, :class:`ConfigError` for a malformed URL.
    """
    check_identifier(database)
    path = chdb_path(url)
    if path is not None:
        with _lock:
            cached = _chdb_clients.get((path, database))
            if cached is not None:
                if cached.database != database:  # created since (e.g. migrated by another client)
                    _use_if_exists(cached, database)
                return cached
            client = _open_chdb(path)
            _use_if_exists(client, database)
            _chdb_clients[(path, database)] = client
            return client
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"unsupported store URL {url!r}: use chdb:///path or http(s)://host:port")
    client = _open_server(url)
    _use_if_exists(client, database)
    return client


@dataclass(frozen=True)
class QueryLimits:
    """Engine limits for queries typed by people. ``None`` leaves a limit off.

    Applied to a read-only session before ``readonly=1`` (see :func:`connect_readonly`), so a
    query cannot raise them: with ``readonly=1`` the engine refuses every ``SETTINGS`` clause."""

    max_execution_s: int = 300
    max_result_rows: int | None = None
    max_result_bytes: int | None = None
    max_memory_bytes: int | None = None
    max_threads: int | None = None
    block_rows: int = 8192

    def engine_settings(self) -> dict[str, Any]:
        """The ClickHouse settings, in the order they must be applied."""
        settings: dict[str, Any] = {
            "max_execution_time": self.max_execution_s,
            "timeout_overflow_mode": "throw",
            "max_block_size": self.block_rows,
        }
        if self.max_result_rows is not None:
            settings["max_result_rows"] = self.max_result_rows
        if self.max_result_bytes is not None:
            settings["max_result_bytes"] = self.max_result_bytes
        if self.max_result_rows is not None or self.max_result_bytes is not None:
            settings["result_overflow_mode"] = "break"
        if self.max_memory_bytes is not None:
            settings["max_memory_usage"] = self.max_memory_bytes
        if self.max_threads is not None:
            settings["max_threads"] = self.max_threads
        return settings


def connect_readonly(
    url: str,
    database: str = "lightkeeper",
    limits: QueryLimits | None = None,
    table_filters: str | None = None,
) -> Any:
    """A separate, uncached client for running queries typed by people. Close it when done.

    The session gets ``limits`` first, then ClickHouse ``readonly=1``: no writes, no DDL, no
    table function that reaches outside the store (``file``, ``url``, ``s3``, ``remote``,
    ``executable``...), and no ``SETTINGS`` clause, so the limits cannot be raised by a query.

    ``table_filters``: a ClickHouse ``additional_table_filters`` map (table -> condition) fixed
    for the session the same way: every read of those tables keeps only the matching rows.

    Why separate: on chdb, session settings stick to the client that set them, so read-only
    mode must never be switched on for the shared client :func:`connect` returns."""
    check_identifier(database)
    settings = (limits or QueryLimits()).engine_settings()
    if table_filters is not None:
        settings["additional_table_filters"] = table_filters
    settings["readonly"] = 1
    path = chdb_path(url)
    if path is not None:
        with _lock:
            client = _open_chdb(path)
        try:
            for name, value in settings.items():  # readonly=1 last: it freezes the others
                client.set_client_setting(name, value)
        except Exception as exc:
            client.close()
            raise StoreError(f"cannot apply read-only settings: {exc}") from exc
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"unsupported store URL {url!r}: use chdb:///path or http(s)://host:port")
        client = _open_server(url, settings=settings)
    _use_if_exists(client, database)
    return client


def _open_chdb(path: str, settings: dict[str, Any] | None = None) -> Any:
    import clickhouse_connect

    if path != ":memory:":
        os.makedirs(path, exist_ok=True)
    try:
        return clickhouse_connect.get_client(dsn=f"chdb://{path}", settings=settings)
    except Exception as exc:
        text = str(exc)
        if "already initialized with path" in text:
            raise StoreError(
                f"cannot open the embedded store at {path}: this process already has another chdb "
                f"data directory open ({', '.join(sorted({p for p, _ in _chdb_clients}))}); chdb "
                f"allows one per process (close_all() first)"
            ) from exc
        if "lock" in text.lower() or "initializing EmbeddedServer" in text:
            raise StoreUnavailable(
                f"cannot open the embedded store at {path}: another process probably holds it (chdb "
                f"allows one process per data directory): stop it, or point store.url at a ClickHouse "
                f"server. Engine said: {text}"
            ) from exc
        raise StoreUnavailable(f"cannot open the embedded store at {path}: {text}") from exc


def _open_server(url: str, settings: dict[str, Any] | None = None) -> Any:
    import clickhouse_connect

    try:
        return clickhouse_connect.get_client(dsn=url, settings=settings)
    except Exception as exc:
        safe = urlsplit(url)._replace(netloc=urlsplit(url).hostname or "").geturl()
        raise StoreUnavailable(f"cannot reach the ClickHouse server at {safe}: {exc}") from exc


def _use_if_exists(client: Any, database: str) -> None:
    if database_exists(client, database):
        client.database = database


def database_exists(client: Any, database: str) -> bool:
    rows = client.query(
        "SELECT count() FROM system.databases WHERE name = {db:String}", parameters={"db": database}
    ).result_rows
    return bool(rows and rows[0][0])


def release(url: str, database: str) -> None:
    """Close and forget the cached embedded client for (url, database), if any."""
    path = chdb_path(url)
    if path is None:
        return
    with _lock:
        client = _chdb_clients.pop((path, database), None)
    if client is not None:
        try:
            client.close()
        except Exception:  # pragma: no cover - closing is best effort
            log.debug("closing a chdb client failed", exc_info=True)


def close_all() -> None:
    """Close every cached embedded client (lets the process open another chdb directory)."""
    with _lock:
        for client in _chdb_clients.values():
            try:
                client.close()
            except Exception:  # pragma: no cover - closing is best effort
                log.debug("closing a chdb client failed", exc_info=True)
        _chdb_clients.clear()
