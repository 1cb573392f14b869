"""``lightkeeper alerts``: list, silence, unsilence, test a route, validate rules."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from lightkeeper.errors import ConfigError, DeliveryError


def _settings(args: argparse.Namespace) -> Any:
    from lightkeeper.alerts.settings import AlertSettings

    return AlertSettings.load(getattr(args, "config", None))


def _fmt_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else str(value or "")


def run_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.local:
        from lightkeeper.alerts.outbox import Outbox

        box = Outbox(settings.outbox_file)
        try:
            rows = [json.loads(data) for _, data in box.load_state("alert")]
        finally:
            box.close()
        rows = [r for r in rows if not args.state or r["state"] == args.state]
        print(f"{'STATE':9} {'RULE':28} {'SINCE':19} {'VALUE':>10}  LABELS")
        for r in rows[: args.limit]:
            labels = ",".join(f"{k}={v}" for k, v in sorted(r["group_labels"].items()))
            value = "" if r.get("value") is None else f"{r['value']:.4g}"
            print(f"{r['state']:9} {r['rule'][:28]:28} {r['started_at'][:19]:19} {value:>10}  {labels}")
        return 0
    from lightkeeper.alerts.store import list_alerts
    from lightkeeper.store import connect

    client = connect(settings.store_url, settings.store.database)
    rows = list_alerts(client, settings.store.database, state=args.state, rule=args.rule, limit=args.limit)
    print(f"{'STATE':9} {'RULE':28} {'SEV':8} {'DELIVERY':9} {'STARTED':19} {'VALUE':>10}  LABELS")
    for r in rows:
        labels = ",".join(
            f"{k}={v}" for k, v in sorted(r["labels"].items()) if k not in ("alertname", "severity")
        )
        value = "" if r["value"] is None else f"{r['value']:.4g}"
        print(
            f"{r['state']:9} {r['rule'][:28]:28} {r['severity']:8} {r['delivery_status']:9} "
            f"{_fmt_time(r['started_at']):19} {value:>10}  {labels}"
        )
    if not rows:
        print("(no alerts)")
    return 0


def run_silence(args: argparse.Namespace) -> int:
    from lightkeeper.alerts.rules import parse_duration
    from lightkeeper.alerts.silences import SilenceStore

    store = SilenceStore(_settings(args).silences_file)
    now = datetime.now(UTC)
    if args.list or not args.matchers:
        silences = [s for s in store.all() if args.all or s.active(now)]
        for s in silences:
            state = "active" if s.active(now) else "expired"
            print(
                f"{s.id}  {state:7}  until {_fmt_time(s.ends_at)}  {' '.join(map(str, s.matchers))}"
                f"  by {s.created_by or '?'}: {s.comment}"
            )
        if not silences:
            print("(no silences)")
        return 0
    try:
        duration = parse_duration(args.duration)
    except ValueError as exc:
        raise ConfigError(f"--duration: {exc}") from None
    silence = store.add(
        args.matchers, duration, created_by=args.by or getpass.getuser(), comment=args.comment, now=now
    )
    matchers = " ".join(map(str, silence.matchers))
    print(f"silenced {matchers} until {_fmt_time(silence.ends_at)} (id {silence.id})")
    return 0


def run_unsilence(args: argparse.Namespace) -> int:
    from lightkeeper.alerts.silences import SilenceStore

    store = SilenceStore(_settings(args).silences_file)
    if not store.remove(args.id):
        raise ConfigError(f"no silence with id {args.id}")
    print(f"removed silence {args.id}")
    return 0


def run_test(args: argparse.Namespace) -> int:
    from lightkeeper.alerts.delivery import build_channel
    from lightkeeper.alerts.notification import AlertItem, Notification
    from lightkeeper.schemas.records import Severity

    settings = _settings(args)
    route = settings.routes.get(args.route)
    if route is None:
        known = ", ".join(sorted(settings.routes)) or "none configured"
        raise ConfigError(f"unknown route {args.route!r} (routes: {known})")
    now = datetime.now(UTC)
    note = Notification(
        key=f"test-{args.route}-{int(now.timestamp())}",
        kind="test",
        incident_key=f"lk-test-{args.route}",
        rule="lightkeeper-test",
        severity=Severity.INFO,
        summary=f"Test notification for route {args.route}",
        labels={"app": "lightkeeper", "alertname": "lightkeeper-test"},
        metric="test",
        aggregate="max",
        window_s=60,
        threshold=1.0,
        value=1.0,
        event_time=now,
        alerts=[
            AlertItem(
                alert_id="test",
                dedup_key=f"lk-test-{args.route}",
                labels={"app": "lightkeeper"},
                value=1.0,
                started_at=now,
            )
        ],
    )

    async def send() -> None:
        channel = build_channel(args.route, route)
        try:
            for attempt in range(1, args.attempts + 1):
                try:
                    await channel.send(note)
                    return
                except DeliveryError as exc:
                    if exc.permanent or attempt == args.attempts:
                        raise
                    await asyncio.sleep(min(exc.retry_after or 2.0 ** (attempt - 1), 30.0))
        finally:
            await channel.aclose()

    asyncio.run(send())
    print(f"sent a test notification via {args.route} ({route.type})")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from lightkeeper.alerts.rules import load_rules

    settings = _settings(args)
    path = args.file or settings.rules_file
    if path is None:
        raise ConfigError("no rules file: pass one or set alerts.rules_file")
    routes = set(settings.routes) if settings.routes and not args.ignore_routes else None
    rules = load_rules(path, routes=routes)
    for r in rules:
        window = int(r.window / timedelta(minutes=1))
        targets = ", ".join(r.routes or settings.default_routes) or "(no route)"
        print(
            f"ok  {r.name}: {r.aggregate}({r.metric}) over {window}m {r.op} {r.threshold:g} "
            f"by [{', '.join(r.group_by)}] -> {targets}"
        )
    print(f"{len(rules)} rule(s) valid in {path}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("alerts", help="alert history, silences, route tests, rule validation")
    sub = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)

    ls = sub.add_parser("list", help="list alerts (from the store; --local: the engine's active alerts)")
    ls.add_argument("--state", choices=["pending", "firing", "resolved"])
    ls.add_argument("--rule")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--local", action="store_true", help="read the engine state file instead of the store")
    ls.set_defaults(handler=run_list)

    si = sub.add_parser("silence", help="mute notifications matching labels for a while (no matcher: list)")
    si.add_argument("matchers", nargs="*", help="name=value, name!=value, name=~regex, name!~regex")
    si.add_argument("--duration", default="2h", help="e.g. 30m, 2h, 1d (default 2h)")
    si.add_argument("--comment", default="")
    si.add_argument("--by", default=None, help="who (default: the current user)")
    si.add_argument("--list", action="store_true")
    si.add_argument("--all", action="store_true", help="with --list: include expired silences")
    si.set_defaults(handler=run_silence)

    un = sub.add_parser("unsilence", help="remove a silence by id")
    un.add_argument("id")
    un.set_defaults(handler=run_unsilence)

    te = sub.add_parser("test", help="send a test notification through a configured route")
    te.add_argument("--route", required=True)
    te.add_argument("--attempts", type=int, default=3)
    te.set_defaults(handler=run_test)

    ru = sub.add_parser("rules", help="alert rules")
    rsub = ru.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    va = rsub.add_parser("validate", help="validate a rules file (default: alerts.rules_file)")
    va.add_argument("file", nargs="?")
    va.add_argument("--ignore-routes", action="store_true", help="do not check routes against the settings")
    va.set_defaults(handler=run_validate)
