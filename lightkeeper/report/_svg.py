"""Inline SVG charts for the HTML report: no JavaScript, no external resources.

Every label that reaches the markup goes through :func:`html.escape` — series names and bar
labels are app, model and user names, i.e. user-supplied strings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

#: Colours of successive series (colour-blind friendly "Okabe-Ito"-like palette).
PALETTE = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#b8a200", "#666666"]


@dataclass
class Series:
    """One line of a time chart: a name and (time, value) points in time order."""

    name: str
    points: list[tuple[datetime, float]] = field(default_factory=list)
    dashed: bool = False


def _nice_ceiling(value: float) -> float:
    """The smallest 1/2/4/6/8 x 10^k at or above ``value`` (the top of a y axis: quarters stay round)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 4.0, 6.0, 8.0, 10.0):
        candidate = step * 10**exponent
        if candidate >= value * 0.999999:
            return candidate
    return 10.0 ** (exponent + 1)


def format_number(value: float) -> str:
    """Short axis/tooltip label: 1.2k, 3.5M, 0.0042."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.3g}M"
    if magnitude >= 1e3:
        return f"{value / 1e3:.3g}k"
    if magnitude == 0:
        return "0"
    if magnitude < 0.01:
        return f"{value:.2g}"
    return f"{value:.3g}"


def _time_label(moment: datetime, span_s: float) -> str:
    if span_s <= 2 * 3600:
        return moment.strftime("%H:%M:%S")
    if span_s <= 2 * 86400:
        return moment.strftime("%H:%M")
    return moment.strftime("%m-%d %H:%M")


def empty_chart(message: str, width: int = 1100, height: int = 80) -> str:
    """A placeholder box saying why there is no chart (e.g. no data in the window)."""
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img">'
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="#fafafa" '
        f'stroke="#ddd"/><text x="{width / 2}" y="{height / 2 + 5}" text-anchor="middle" '
        f'fill="#888" font-size="14">{escape(message)}</text></svg>'
    )


def time_chart(
    series: Sequence[Series],
    *,
    y_label: str,
    width: int = 1100,
    height: int = 260,
    value_format: Callable[[float], str] = format_number,
    threshold: float | None = None,
) -> str:
    """A multi-line time chart (points joined per series) with axes, grid and a legend.

    ``threshold`` draws a dashed horizontal reference line (e.g. a drift threshold)."""
    drawn = [s for s in series if s.points]
    if not drawn:
        return empty_chart("no data in this window", width)
    left, right, top, bottom = 64, 16, 28, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    times = [t.timestamp() for s in drawn for t, _ in s.points]
    t0, t1 = min(times), max(times)
    if t1 - t0 < 1:
        t0, t1 = t0 - 30, t1 + 30
    values = [v for s in drawn for _, v in s.points if math.isfinite(v)]
    y_top = _nice_ceiling(max([*values, threshold or 0.0, 0.0]))

    def x_of(ts: float) -> float:
        return left + (ts - t0) / (t1 - t0) * plot_w

    def y_of(value: float) -> float:
        return top + plot_h - max(0.0, min(value, y_top)) / y_top * plot_h

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img">']
    parts.append(f'<text x="4" y="14" font-size="12" fill="#555">{escape(y_label)}</text>')
    for i in range(5):  # horizontal grid and y labels
        value = y_top * i / 4
        y = y_of(value)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#666">{escape(value_format(value))}</text>'
        )
    for i in range(6):  # x labels
        ts = t0 + (t1 - t0) * i / 5
        label = _time_label(datetime.fromtimestamp(ts, tz=drawn[0].points[0][0].tzinfo), t1 - t0)
        anchor = "start" if i == 0 else "end" if i == 5 else "middle"
        parts.append(
            f'<text x="{x_of(ts):.1f}" y="{height - 12}" font-size="11" text-anchor="{anchor}" '
            f'fill="#666">{escape(label)}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#999"/>'
    )
    if threshold is not None:
        y = y_of(threshold)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#d00" '
            f'stroke-dasharray="6 4"><title>threshold {escape(value_format(threshold))}</title></line>'
        )
    names = [item.name if len(item.name) <= 40 else item.name[:39] + "…" for item in drawn]
    legend_x = max(left + 7 * len(y_label) + 16, width - right - sum(24 + 7 * len(n) for n in names))
    for index, item in enumerate(drawn):
        colour = PALETTE[index % len(PALETTE)]
        finite = [(t, v) for t, v in item.points if math.isfinite(v)]  # NaN/inf are gaps, not zeros
        coords = [(x_of(t.timestamp()), y_of(v)) for t, v in finite]
        dash = ' stroke-dasharray="5 3"' if item.dashed else ""
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{path}"/>')
        for (x, y), (moment, value) in zip(coords, finite, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{3 if len(coords) < 40 else 1.5}" '
                f'fill="{colour}"><title>{escape(item.name)} {moment:%Y-%m-%d %H:%M:%S}: '
                f"{escape(value_format(value))}</title></circle>"
            )
        name = names[index]
        parts.append(f'<rect x="{legend_x}" y="6" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="15" font-size="12">{escape(name)}</text>')
        legend_x += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    width: int = 520,
    value_format: Callable[[float], str] = format_number,
    colour: str = PALETTE[0],
) -> str:
    """Horizontal bars, largest first as given, labelled with name and value."""
    if not items:
        return empty_chart("no data in this window", width)
    row_h, label_w, value_w = 22, 170, 70
    height = row_h * len(items) + 8
    top_value = max(max(v for _, v in items), 0.0) or 1.0
    bar_space = width - label_w - value_w - 8
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img">']
    for index, (name, value) in enumerate(items):
        y = 4 + index * row_h
        bar = max(0.0, value) / top_value * bar_space
        label = name if len(name) <= 24 else name[:23] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"{escape(label or '(none)')}<title>{escape(name)}</title></text>"
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{bar:.1f}" height="{row_h - 6}" fill="{colour}" rx="2"/>'
        )
        parts.append(
            f'<text x="{label_w + bar + 6:.1f}" y="{y + 15}" font-size="12" fill="#333">'
            f"{escape(value_format(value))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
