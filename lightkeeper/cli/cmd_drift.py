"""``lightkeeper drift report`` and ``lightkeeper drift check``: drift on demand from the store.

Both read two time ranges of one app (and model) from ``events_dedup``; embeddings are recomputed
from the stored texts (the store keeps none). ``report`` writes an evidently HTML report;
``check`` runs the stream's drift tests once and prints one drift record per target (JSON lines).
Time ranges are ``START..END`` with ISO 8601 instants (UTC when no offset), ``now`` or a relative
``-<n>{s,m,h,d}`` (e.g. ``-2d..-1d``).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lightkeeper.errors import ConfigError

_REL = re.compile(r"^-(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_instant(text: str, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    text = text.strip()
    if text == "now":
        return now
    m = _REL.match(text)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"not a time: {text!r} (ISO 8601, 'now' or -<n>s|m|h|d)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_range(text: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """``START..END`` -> (start, end) in UTC; raises ConfigError for malformed or empty ranges."""
    start_s, sep, end_s = text.partition("..")
    if not sep or not start_s or not end_s:
        raise ConfigError(f"time range must be START..END, got {text!r}")
    now = now or datetime.now(UTC)
    start, end = parse_instant(start_s, now), parse_instant(end_s, now)
    if end <= start:
        raise ConfigError(f"time range {text!r} is empty (end is not after start)")
    return start, end


def _settings(args: argparse.Namespace) -> Any:
    from lightkeeper.processors.drift.config import DriftConfig
    from lightkeeper.settings import LightkeeperSettings

    class DriftCliSettings(LightkeeperSettings):
        """The shared settings plus the top-level ``drift:`` mapping of the YAML file."""

        drift: DriftConfig = DriftConfig()

    return DriftCliSettings.load(
        getattr(args, "config", None), store__url=args.url, store__database=args.database
    )


def _load(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from lightkeeper.processors.drift.from_store import embed_window, load_window
    from lightkeeper.store import connect

    settings = _settings(args)
    ref_range, cur_range = parse_range(args.reference), parse_range(args.current)
    client = connect(settings.store_url, settings.store.database)
    sides = []
    for start, end in (ref_range, cur_range):
        data = load_window(
            client,
            settings.store.database,
            app=args.app,
            model=args.model,
            start=start,
            end=end,
            limit=args.limit,
        )
        if len(data) < args.min_events:
            raise ConfigError(
                f"only {len(data)} events of app {args.app!r} model {args.model!r} in "
                f"{start.isoformat()}..{end.isoformat()} (need {args.min_events})"
            )
        sides.append(data)
    if not args.no_embeddings:
        from lightkeeper.processors.embedding import get_embedder

        embedder = get_embedder()
        for data in sides:
            embed_window(data, embedder)
    return settings, sides[0], sides[1]


def run_report(args: argparse.Namespace) -> int:
    from lightkeeper.ids import uuid7_str
    from lightkeeper.processors.drift.from_store import frame
    from lightkeeper.processors.drift.report import ReportJob, report_path, write_report

    settings, ref, cur = _load(args)
    cfg = settings.drift.for_app(args.app)
    emb = None if args.no_embeddings else args.target
    job = ReportJob(
        drift_id=uuid7_str(),
        app=args.app,
        model=args.model or "all",
        key="",
        target=f"{emb}_embedding" if emb else "metadata",
        reference=frame(ref, cfg.numeric_features, cfg.categorical_features, emb),
        current=frame(cur, cfg.numeric_features, cfg.categorical_features, emb),
        numeric=list(cfg.numeric_features),
        categorical=list(cfg.categorical_features),
        tsne_rows=args.tsne_rows,
    )
    reports_dir = cfg.reports_dir or settings.data_dir / "reports" / "drift"
    path = Path(args.out) if args.out else report_path(Path(reports_dir), job)
    write_report(job, path)
    print(f"{path}  (reference {len(ref)} events, current {len(cur)} events)")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from lightkeeper.processors.drift.on_demand import compare

    settings, ref, cur = _load(args)
    for record in compare(
        ref, cur, settings.drift.for_app(args.app), app=args.app, model=args.model or "all"
    ):
        sys.stdout.write(record.model_dump_json() + "\n")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--app", required=True)
    p.add_argument("--model", default=None, help="the model (default: all models of the app)")
    p.add_argument("--reference", required=True, metavar="START..END")
    p.add_argument("--current", required=True, metavar="START..END")
    p.add_argument("--limit", type=int, default=2000, help="at most this many events per side (sampled)")
    p.add_argument("--min-events", type=int, default=20)
    p.add_argument("--no-embeddings", action="store_true", help="metadata only (no embedding model)")
    p.add_argument("--url", default=None, help="store URL (default: settings)")
    p.add_argument("--database", default=None)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("drift", help="drift reports and checks on stored events")
    sub = p.add_subparsers(dest="drift_command", metavar="SUBCOMMAND")
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])

    rep = sub.add_parser("report", help="write an evidently HTML drift report for two time ranges")
    _common(rep)
    rep.add_argument("--target", choices=["prompt", "response"], default="prompt")
    rep.add_argument("--out", default=None, help="HTML file (default: <reports dir>/<app>/<model>/...)")
    rep.add_argument("--tsne-rows", type=int, default=0, help="add evidently's t-SNE embedding view (slow)")
    rep.set_defaults(handler=run_report)

    chk = sub.add_parser("check", help="run the drift tests once; print drift records as JSON lines")
    _common(chk)
    chk.set_defaults(handler=run_check)
