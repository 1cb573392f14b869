"""``lightkeeper compare``: one app's release against another, with confidence intervals."""

from __future__ import annotations

import argparse
from typing import Any


def run_compare(args: argparse.Namespace) -> int:
    from lightkeeper.settings import LightkeeperSettings
    from lightkeeper.store import connect
    from lightkeeper.store.releases import compare_releases, format_comparison

    settings = LightkeeperSettings.load(
        getattr(args, "config", None),
        store__url=args.url,
        store__database=args.database,
        data_dir=args.data_dir,
    )
    client = connect(settings.store_url, settings.store.database)
    comparison = compare_releases(client, settings.store.database, args.app, args.release, args.against)
    print(format_comparison(comparison))
    return 3 if args.fail_on_regression and any(m.worse for m in comparison.metrics) else 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compare",
        help="compare two releases of an app (cost, latency, errors, detector flag rates, drift)",
        description="Per metric: both releases' values, the difference with a 95%% confidence interval "
        "(bootstrap for cost and latency, two-proportion interval for rates), and whether it is "
        "significant.",
    )
    p.add_argument("--app", required=True, help="the app (service) whose releases are compared")
    p.add_argument("--release", required=True, help="the release under test (e.g. the new one)")
    p.add_argument("--against", required=True, help="the baseline release")
    p.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit with status 3 when the release is significantly worse on any metric (for CI)",
    )
    p.add_argument("--url", help="store URL (default: the embedded store under --data-dir)")
    p.add_argument("--database", help="database name (default: lightkeeper)")
    p.add_argument("--data-dir", help="data directory (default .lightkeeper)")
    p.set_defaults(handler=run_compare)
