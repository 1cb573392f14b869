"""``lightkeeper migrate``, ``lightkeeper sql`` and ``lightkeeper export-schemas``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lightkeeper.errors import ConfigError


def _settings(args: argparse.Namespace) -> Any:
    from lightkeeper.settings import LightkeeperSettings

    return LightkeeperSettings.load(
        getattr(args, "config", None),
        store__url=getattr(args, "url", None),
        store__database=getattr(args, "database", None),
        data_dir=getattr(args, "data_dir", None),
    )


def run_migrate(args: argparse.Namespace) -> int:
    from lightkeeper.store import connect
    from lightkeeper.store.migrate import TemplateContext, discover, migrate, pending, split_statements

    settings = _settings(args)
    database = settings.store.database
    client = connect(settings.store_url, database)
    if args.status:
        todo = {m.version for m in pending(client, database)}
        for m in discover():
            print(f"{m.path.name:40} {'pending' if m.version in todo else 'applied'}")
        return 0
    if args.print_sql:
        ctx = TemplateContext(
            database, settings.store.cluster, settings.store.events_ttl_days, settings.store.derived_ttl_days
        )
        for m in pending(client, database):
            print(f"-- {m.path.name} (sha256 {m.checksum})")
            for statement in split_statements(ctx.render(m.text)):
                print(f"{statement};\n")
        return 0
    applied = migrate(client, database, settings.store.cluster, **settings.store.migrate_kwargs())
    names = {m.version: m.path.name for m in discover()}
    if applied:
        for version in applied:
            print(f"applied {names[version]}")
    else:
        print(f"database {database} is up to date ({len(names)} migrations applied)")
    return 0


def _parse_params(items: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise ConfigError(f"--param must be name=value with a plain name, got {item!r}")
        params[name] = value
    return params


def run_sql(args: argparse.Namespace) -> int:
    from lightkeeper.errors import StoreUnavailable
    from lightkeeper.store import connect
    from lightkeeper.store.client import QueryLimits, connect_readonly

    settings = _settings(args)
    params = _parse_params(args.param)
    if args.max_execution_time < 1:
        raise ConfigError("--max-execution-time must be at least 1 second")
    limits = QueryLimits(max_execution_s=args.max_execution_time, max_threads=None)
    try:
        with _engine_stderr_quiet(settings.store_url):
            if args.write:
                client = connect(settings.store_url, settings.store.database)
            else:
                client = connect_readonly(settings.store_url, settings.store.database, limits)
    except StoreUnavailable:
        # chdb: the embedded store is locked; a running `lightkeeper up` answers read queries.
        from lightkeeper.runtime.query_endpoint import find_runtime

        runtime = find_runtime(settings.store_url, settings.data_dir)
        if runtime is None:
            raise
        if args.write:
            raise StoreUnavailable(
                f"the embedded store is held by lightkeeper up (pid {runtime.pid}), which only "
                f"answers read queries: stop it to run --write statements"
            ) from None
        return _sql_via_runtime(runtime, args, params, settings.store.database)
    audit = _cli_audit(settings.store_url, settings.store.database, args.query, params, args.format)
    started = time.monotonic()
    try:
        audit.rows, audit.bytes = _sql(client, args, params)
    except Exception as exc:
        audit.outcome, audit.error = _outcome(exc), str(exc)
        raise
    finally:
        audit.duration_ms = (time.monotonic() - started) * 1000
        if not args.write:
            client.close()
        _record_cli_audit(settings.store_url, settings.store.database, audit)
    return 0


def _cli_audit(url: str, database: str, query: str, params: dict[str, Any], fmt: str) -> Any:
    import getpass
    from urllib.parse import urlsplit

    from lightkeeper.store.audit import QueryAudit

    if url.startswith(("http://", "https://")):
        principal = urlsplit(url).username or "default"
    else:
        principal = f"local:{getpass.getuser()}"
    return QueryAudit("cli", principal, database, query, "ok", parameter_names=list(params), fmt=fmt)


def _outcome(exc: Exception) -> str:
    from lightkeeper.errors import StoreUnavailable
    from lightkeeper.store.audit import outcome_of

    if isinstance(exc, StoreUnavailable):
        return "unavailable"
    return "refused" if "READONLY" in str(exc) else outcome_of(str(exc))


def _record_cli_audit(url: str, database: str, audit: Any) -> None:
    """Record the run in ``audit_queries`` with the store's configured user; a failed write is
    reported on stderr (the query already ran)."""
    from lightkeeper.store import connect
    from lightkeeper.store.audit import record

    try:
        record(connect(url, database), database, [audit])
    except Exception as exc:
        print(f"lightkeeper: the audit row of this query was not written: {exc}", file=sys.stderr)


@contextlib.contextmanager
def _engine_stderr_quiet(store_url: str) -> Iterator[None]:
    """chdb prints its own "Cannot lock file" line on stderr when another process holds the
    store; the StoreUnavailable raised carries that message anyway, and the query may well be
    answered by the running runtime, so that line is hidden while the embedded store opens."""
    if not store_url.startswith("chdb://"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _sql_via_runtime(runtime: Any, args: argparse.Namespace, params: dict[str, Any], database: str) -> int:
    """Send the query to the running runtime's read-only endpoint; print what it formatted."""
    from lightkeeper.runtime.query_endpoint import query_runtime

    if args.format == "parquet" and not args.output:
        raise ConfigError("--format parquet needs --output FILE")
    body, rows, truncated = query_runtime(
        runtime, args.query, params, fmt=args.format, max_width=args.max_width, database=database
    )
    if truncated:
        print(f"lightkeeper: result cut at {rows} rows by the runtime's limit", file=sys.stderr)
    if args.output:
        Path(args.output).write_bytes(body)
        if args.format == "parquet":
            print(f"wrote {rows} rows to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(body.decode("utf-8"))
    return 0


def _sql(client: Any, args: argparse.Namespace, params: dict[str, Any]) -> tuple[int, int]:
    """Run and print the query; returns (rows, bytes written)."""
    from lightkeeper.store.query import format_csv, format_json, format_table, run_query

    if args.format == "parquet":
        return _sql_parquet(client, args, params)
    result = run_query(client, args.query, params)
    if args.format == "csv":
        text = format_csv(result)
    elif args.format == "json":
        text = format_json(result) + "\n"
    else:
        text = format_table(result, max_width=args.max_width) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return len(result.rows), len(text.encode())


def _sql_parquet(client: Any, args: argparse.Namespace, params: dict[str, Any]) -> tuple[int, int]:
    import pyarrow.parquet as pq

    from lightkeeper.errors import StoreError

    if not args.output:
        raise ConfigError("--format parquet needs --output FILE")
    try:
        table = client.query_arrow(args.query, parameters=params or None)
    except Exception as exc:
        raise StoreError(f"query failed: {exc}") from exc
    pq.write_table(table, args.output)
    print(f"wrote {table.num_rows} rows to {args.output}", file=sys.stderr)
    return table.num_rows, Path(args.output).stat().st_size


def run_export_schemas(args: argparse.Namespace) -> int:
    from lightkeeper.schemas.codec import JSONSCHEMA_DIR, export_json_schemas, render_json_schemas

    if args.check:
        stale = [
            name
            for name, content in render_json_schemas().items()
            if not (JSONSCHEMA_DIR / name).is_file() or (JSONSCHEMA_DIR / name).read_bytes() != content
        ]
        if stale:
            print(f"out of date: {', '.join(stale)} (run `lightkeeper export-schemas`)", file=sys.stderr)
            return 1
        print("JSON Schemas are up to date")
        return 0
    for path in export_json_schemas():
        print(f"wrote {path}")
    return 0


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url", help="store URL: chdb:///path (embedded, default <data_dir>/store) or http(s)://..."
    )
    p.add_argument("--database", help="database name (default: lightkeeper)")


def register(subparsers: Any) -> None:
    mig = subparsers.add_parser("migrate", help="apply pending store migrations (no-op when up to date)")
    _store_args(mig)
    mig.add_argument(
        "--status", action="store_true", help="list migrations as applied/pending, change nothing"
    )
    mig.add_argument(
        "--print-sql", action="store_true", help="print the rendered SQL of pending migrations, apply nothing"
    )
    mig.set_defaults(handler=run_migrate)

    sql = subparsers.add_parser(
        "sql",
        help="run a query against the store",
        description="Run a query (read-only unless --write). Pass user values as server-side "
        "parameters: write {name:Type} in the query and --param name=value (never paste values "
        "into the SQL text).",
    )
    sql.add_argument("query", help='SQL, e.g. "SELECT count() FROM events_dedup WHERE app = {app:String}"')
    _store_args(sql)
    sql.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="query parameter")
    sql.add_argument("--format", choices=["table", "csv", "json", "parquet"], default="table")
    sql.add_argument("--output", "-o", help="write to this file instead of stdout (required for parquet)")
    sql.add_argument("--max-width", type=int, default=60, help="table format: cut cells longer than this")
    sql.add_argument("--write", action="store_true", help="allow statements that change data or schema")
    sql.add_argument(
        "--max-execution-time",
        type=int,
        default=60,
        metavar="SECONDS",
        help="read queries stop after this long (the engine enforces it; a query cannot raise it). "
        "Through a running `lightkeeper up`, its own limits apply",
    )
    sql.add_argument(
        "--data-dir",
        help="data directory (default .lightkeeper); while `lightkeeper up` holds the embedded "
        "store, read queries go through it (token in <data-dir>/runtime.json)",
    )
    sql.set_defaults(handler=run_sql)

    exp = subparsers.add_parser(
        "export-schemas", help="write the JSON Schemas of all records to schemas/jsonschema"
    )
    exp.add_argument("--check", action="store_true", help="only check they are up to date (exit 1 if not)")
    exp.set_defaults(handler=run_export_schemas)
