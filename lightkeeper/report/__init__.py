"""``lightkeeper report``: a self-contained HTML overview of the store for users without Grafana.

Public surface::

    parse_since("24h") -> timedelta                      # 90s, 15m, 24h, 7d, 2w
    build_report(client, database, *, since=timedelta(hours=24), now=None, title=...) -> str
    write_report(path, html) -> Path

The page holds inline CSS and SVG only (no script, no external resource), so it opens offline
and can be mailed or archived. Sections: headline numbers, traffic and cost over time, latency
p50/p95, cost by app/model/user, flag rate per detector, drift timeline and detections, recent
alerts, worst (most flagged) events and most expensive calls.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lightkeeper.errors import ConfigError
from lightkeeper.report._data import ReportData, fetch
from lightkeeper.report._html import render

__all__ = ["ReportData", "build_report", "parse_since", "write_report"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_since(text: str) -> timedelta:
    """``"24h"`` -> 24 hours; units s, m, h, d, w. Raises :class:`ConfigError` otherwise."""
    match = _SINCE.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"--since must be a positive duration like 90s, 15m, 24h or 7d, got {text!r}")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def build_report(
    client: Any,
    database: str,
    *,
    since: timedelta = timedelta(hours=24),
    now: datetime | None = None,
    title: str = "Lightkeeper overview",
) -> str:
    """Query ``database`` for the window ``[now - since, now]`` and return the HTML page.

    Raises :class:`~lightkeeper.errors.StoreError` when a query is refused (e.g. the schema is
    not migrated) and :class:`~lightkeeper.errors.StoreUnavailable` when the store is down."""
    end = (now or datetime.now(UTC)).astimezone(UTC)
    data = fetch(client, database, end - since, end)
    return render(data, title=title, generated_at=datetime.now(UTC))


def write_report(path: str | Path, html: str) -> Path:
    """Write ``html`` to ``path`` (parents created) atomically; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(target)
    return target
