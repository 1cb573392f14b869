"""``lightkeeper erase``: remove a user's, tenant's or session's data from every table."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from lightkeeper.errors import ConfigError


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--before {text!r} is not an ISO 8601 time (e.g. 2026-01-31T00:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def selector_from_args(args: argparse.Namespace) -> Any:
    """The :class:`Selector` the flags name; refuses none (without ``--yes-all``) or several."""
    from lightkeeper.store.erasure import ALL, Selector

    given = [(kind, getattr(args, kind)) for kind in ("user", "tenant", "session")]
    chosen = [(kind, value) for kind, value in given if value is not None]
    before = _parse_time(args.before) if args.before else None
    if len(chosen) > 1:
        names = ", ".join(f"--{k}" for k, _ in chosen)
        raise ConfigError(f"erase takes one selector, got {names}: run one erasure per subject")
    if not chosen:
        if not args.yes_all:
            raise ConfigError(
                "erase needs a selector (--user, --tenant or --session); without one it would "
                "erase every event, which needs --yes-all"
            )
        return Selector(ALL, "", before)
    kind, value = chosen[0]
    return Selector(kind, value, before)


def run_erase(args: argparse.Namespace) -> int:
    from lightkeeper.settings import LightkeeperSettings
    from lightkeeper.store import connect
    from lightkeeper.store.erasure import Eraser

    settings = LightkeeperSettings.load(
        getattr(args, "config", None),
        store__url=args.url,
        store__database=args.database,
        data_dir=args.data_dir,
    )
    selector = selector_from_args(args)
    client = connect(settings.store_url, settings.store.database)
    eraser = Eraser(
        client,
        settings.store.database,
        salt=settings.privacy.salt(settings.data_dir),
        cluster=settings.store.cluster,
        drop_horizon_days=settings.privacy.erased_drop_days,
    )
    if "events" not in eraser.tables:
        raise ConfigError(
            f"database {settings.store.database} has no events table: run `lightkeeper migrate`"
        )
    if not args.yes_all and eraser.matches_everything(selector):
        raise ConfigError(f"--{selector.kind} matches every stored event; erasing everything needs --yes-all")
    report = eraser.erase(selector, requested_by=args.by or getpass.getuser(), dry_run=args.dry_run)
    what = "all subjects" if selector.kind == "all" else f"{selector.kind} #{report.selector_hash[:12]}"
    print(f"erasure of {what}{' (dry run)' if report.dry_run else ''}:")
    for table, count in report.counts.items():
        if table == "rollup_minute":
            line = f"{'would rebuild' if report.dry_run else 'rebuilt'} {count} minutes"
        else:
            unit = "examples" if table == "drift" else "rows"
            line = f"{'would remove' if report.dry_run else 'removed'} {count} {unit}"
        print(f"  {table:16} {line}")
    if report.dry_run:
        print("dry run: nothing was removed or recorded")
    else:
        print(f"recorded as erasure {report.erasure_id}")
        if report.drop_until is not None:
            print(f"late events of this {selector.kind} are dropped until {report.drop_until.isoformat()}")
    sys.stdout.flush()
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "erase",
        help="erase a user's, tenant's or session's data from every table",
        description="Remove the matching rows from events, scores, feedback, anomalies, alerts, drift "
        "examples and the rollups; record the erasure (with a salted hash of the selector, never "
        "the value) and keep dropping the subject's late events. See docs/privacy.md.",
    )
    who = p.add_argument_group("selector (exactly one)")
    who.add_argument("--user", help="user id")
    who.add_argument("--tenant", help="tenant")
    who.add_argument("--session", help="session id")
    p.add_argument("--before", help="only rows that started before this ISO 8601 time")
    p.add_argument("--dry-run", action="store_true", help="count what would be removed, change nothing")
    p.add_argument(
        "--yes-all",
        action="store_true",
        help="allow erasing everything (no selector, or one that matches all)",
    )
    p.add_argument("--by", help="who requests the erasure, for the audit row (default: the OS user)")
    p.add_argument("--url", help="store URL (default: the embedded store under --data-dir)")
    p.add_argument("--database", help="database name (default: lightkeeper)")
    p.add_argument("--data-dir", help="data directory (default .lightkeeper)")
    p.set_defaults(handler=run_erase)
