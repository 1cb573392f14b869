"""Slack message rendering (Block Kit): what fired, value vs threshold, examples, the SQL.

Every user-supplied string (labels, rule text, examples) is escaped for mrkdwn (``&``, ``<``,
``>``) and broadcast keywords are defused, so label values cannot ping ``@channel`` or forge
links.
"""

from __future__ import annotations

import re
from typing import Any

from lightkeeper.alerts.notification import Notification

_EMOJI = {
    "firing": ":rotating_light:",
    "renotify": ":repeat:",
    "update": ":rotating_light:",
    "resolved": ":white_check_mark:",
    "test": ":test_tube:",
}
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_TEXT_LIMIT = 2900


def escape(text: Any) -> str:
    """Escape for Slack mrkdwn and defuse ``@channel``/``@here``/``@everyone``."""
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@\u200b" + m.group(1), out)


def _clip(text: str, limit: int = _TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def title(note: Notification) -> str:
    state = {"renotify": "still firing", "update": "firing", "test": "test"}.get(note.kind, note.kind)
    return f"[{state.upper()}] {note.rule} ({note.severity.value})"


def fallback_text(note: Notification) -> str:
    """Plain text for notifications and clients without blocks."""
    return escape(f"{title(note)}: {note.summary}")


def blocks(note: Notification, dashboard_url: str | None = None) -> list[dict[str, Any]]:
    """Block Kit blocks for a notification."""
    emoji = _EMOJI.get(note.kind, "")
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(f"{title(note)}", 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"{emoji} {escape(note.summary)}")}},
    ]
    window = f"{int(note.window_s // 60)}m" if note.window_s else "n/a"
    fields = [
        f"*Value*\n{_fmt(note.value)} {escape(note.op)} {_fmt(note.threshold)} (threshold)",
        f"*Metric*\n{escape(note.aggregate)}({escape(note.metric)}) over {window}",
        f"*Severity*\n{escape(note.severity.value)}",
        f"*Alerts*\n{len(note.firing)} firing, {len(note.alerts) - len(note.firing)} resolved",
    ]
    out.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]})
    if note.labels:
        labels = ", ".join(f"`{escape(k)}={escape(v)}`" for k, v in sorted(note.labels.items()))
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"*Labels* {labels}")}})
    lines = []
    for item in note.alerts[:10]:
        group = ", ".join(
            f"{escape(k)}={escape(v)}" for k, v in sorted(item.labels.items()) if k not in note.labels
        )
        lines.append(f"• {escape(item.state)} {group or escape(item.dedup_key)}: {_fmt(item.value)}")
        for example, value in item.top[:3]:
            lab = ", ".join(f"{escape(k)}={escape(v)}" for k, v in sorted(example.items()))
            lines.append(f"    ◦ {lab}: {_fmt(value)}")
    if len(note.alerts) > 10:
        lines.append(f"… and {len(note.alerts) - 10} more")
    if lines:
        out.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip("*Top examples*\n" + "\n".join(lines))},
            }
        )
    if note.sql:
        out.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(f"*Reproduce*\n```{escape(note.sql)}```")},
            }
        )
    context = f"dedup key `{escape(note.incident_key)}` · event time {note.event_time.isoformat()}"
    if dashboard_url:
        context += f" · <{escape(dashboard_url)}|dashboard>"
    out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(context)}]})
    return out
