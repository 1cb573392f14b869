"""``lightkeeper report``: write the self-contained HTML overview of the store."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def run_report(args: argparse.Namespace) -> int:
    from lightkeeper.report import build_report, parse_since, write_report
    from lightkeeper.settings import LightkeeperSettings
    from lightkeeper.store.client import connect_readonly

    since = parse_since(args.since)  # before connecting: a typo fails fast
    settings = LightkeeperSettings.load(
        getattr(args, "config", None), store__url=args.url, store__database=args.database
    )
    client = connect_readonly(settings.store_url, settings.store.database)
    try:
        html = build_report(client, settings.store.database, since=since, title=args.title)
    finally:
        client.close()
    path = write_report(args.output, html)
    print(f"wrote {path} ({len(html.encode()) / 1024:.0f} KiB, last {args.since})", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a self-contained HTML overview (cost, latency, quality, drift, alerts)",
        description="Query the store and write one HTML file with inline SVG charts: traffic and "
        "cost over time, cost by app/model/user, latency p50/p95, flag rate per detector, drift "
        "timeline, recent alerts, worst events. No JavaScript, no network needed to view it.",
    )
    p.add_argument("-o", "--output", default="overview.html", help="output file (default overview.html)")
    p.add_argument("--since", default="24h", help="window ending now: 90s, 15m, 24h, 7d (default 24h)")
    p.add_argument("--title", default="Lightkeeper overview", help="page title")
    p.add_argument("--url", default=None, help="store URL (default: settings, chdb://<data_dir>/store)")
    p.add_argument("--database", default=None, help="store database (default: settings, lightkeeper)")
    p.set_defaults(handler=run_report)
