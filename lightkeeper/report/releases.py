"""The report's release section (the comparisons themselves: :mod:`lightkeeper.store.releases`)."""

from __future__ import annotations

from lightkeeper.store.releases import (
    MetricComparison,
    ReleaseComparison,
    _fmt,
    compare_proportions,
    compare_releases,
    compare_samples,
    format_comparison,
    latest_comparisons,
)

__all__ = [
    "MetricComparison",
    "ReleaseComparison",
    "compare_proportions",
    "compare_releases",
    "compare_samples",
    "format_comparison",
    "latest_comparisons",
    "render_releases_html",
]


def render_releases_html(comparisons: list[ReleaseComparison]) -> str:
    """The report's release section: one table per app, significant regressions marked."""
    from html import escape

    if not comparisons:
        return (
            '<section><h2>Releases</h2><p class="muted">no app has two releases '
            "(set X-Lightkeeper-Release or OTel service.version)</p></section>"
        )
    blocks = []
    for cmp in comparisons:
        rows = []
        for m in cmp.metrics:
            ci = m.ci_text
            verdict = f"{m.verdict} (significant)" if m.significant else m.verdict
            if m.worse:
                verdict = f"<b>{verdict}</b>"
            rows.append(
                f"<tr><td>{escape(m.metric)}</td><td class=num>{_fmt(m.metric, m.value)}</td>"
                f"<td class=num>{_fmt(m.metric, m.baseline)}</td><td class=num>{_fmt(m.metric, m.diff)}</td>"
                f"<td class=num>{escape(ci)}</td><td>{verdict}</td></tr>"
            )
        worse = [m.metric for m in cmp.metrics if m.worse]
        summary = (
            f"<p>{escape(cmp.release)} is significantly worse than {escape(cmp.against)} on: "
            f"{escape(', '.join(worse))}</p>"
            if worse
            else f"<p>no significant regression of {escape(cmp.release)} against {escape(cmp.against)}</p>"
        )
        blocks.append(
            f"<h3>{escape(cmp.app)}: {escape(cmp.release)} against {escape(cmp.against)}</h3>{summary}"
            f"<table><thead><tr><th>metric</th><th>{escape(cmp.release)}</th><th>{escape(cmp.against)}</th>"
            "<th>difference</th><th>95% CI</th><th>verdict</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    return "<section><h2>Releases</h2>" + "".join(blocks) + "</section>"
