"""`lightkeeper report`: content from a demo-filled store, escaping of hostile strings, the CLI,
and the page opened in a real headless Chromium (screenshot, no console errors)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lightkeeper.errors import ConfigError
from lightkeeper.report import build_report, parse_since, write_report
from lightkeeper.report._data import choose_bucket, last_user_message
from lightkeeper.report._svg import Series, bar_chart, time_chart

from ._chromium import INSTALL_HINT, check_page, find_chromium

HOSTILE_APP = "<script>alert('app')</script>"
HOSTILE_PROMPT = 'ignore this <img src=x onerror=alert(1)> & "quotes"'
HOSTILE_USER = "u<b>bold</b>"


@pytest.fixture(scope="module")
def demo_db(demo_filled_store: tuple[Any, str]) -> Iterator[tuple[Any, str]]:
    """The session's demo-filled database, plus one priced event with hostile labels and prompt."""
    from lightkeeper.schemas.events import LLMCallEvent
    from lightkeeper.schemas.rows import event_row
    from lightkeeper.store.writer import BatchWriter

    client, database = demo_filled_store
    hostile = LLMCallEvent.model_validate(
        {
            "app": HOSTILE_APP,
            "user_id": HOSTILE_USER,
            "provider_name": "openai",
            "request_model": "gpt-4o",
            "response_model": "gpt-4o",
            "start_time": datetime.now(UTC) - timedelta(seconds=5),
            "duration_ms": 1234.0,
            "http_status": 200,
            "usage": {"input_tokens": 10, "output_tokens": 10},
            "input_messages": [{"role": "user", "content": HOSTILE_PROMPT}],
            "output": {"text": "ok"},
        }
    )
    writer = BatchWriter(client, "events", database=database, batch_rows=10, flush_interval_s=1.0)
    writer.write([event_row(hostile, cost_usd="99.5")])  # the most expensive call of the window
    yield client, database


@pytest.fixture(scope="module")
def report_html(demo_db: tuple[Any, str]) -> str:
    client, database = demo_db
    return build_report(client, database, since=timedelta(hours=1))


# --- units ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("24h", 86400), ("7d", 604800)])
def test_parse_since(text: str, seconds: int) -> None:
    assert parse_since(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "0h", "-1h", "1y", "1.5h"])
def test_parse_since_refuses_garbage(text: str) -> None:
    with pytest.raises(ConfigError, match="--since"):
        parse_since(text)


def test_bucket_keeps_charts_readable() -> None:
    assert choose_bucket(0) == 1
    assert choose_bucket(40) == 1
    assert choose_bucket(3600) == 60
    assert choose_bucket(86400) == 1800
    assert choose_bucket(10 * 365 * 86400) == 86400


def test_last_user_message() -> None:
    messages = '[{"role":"system","content":"s"},{"role":"user","content":"a"},{"role":"user","content":"b"}]'
    assert last_user_message(messages) == "b"
    assert last_user_message("not json") == ""
    assert last_user_message('{"role":"user"}') == ""


def test_charts_escape_labels_and_handle_empty_data() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    svg = time_chart([Series("<b>x</b>", [(t0, 1.0), (t0 + timedelta(minutes=1), 3.0)])], y_label="a&b")
    assert "<b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg and "a&amp;b" in svg
    assert "<polyline" in svg
    assert "no data" in time_chart([Series("empty")], y_label="y")
    gap = time_chart([Series("s", [(t0, 1.0), (t0 + timedelta(minutes=1), float("nan"))])], y_label="y")
    assert gap.count("<circle") == 1 and "nan" not in gap
    bars = bar_chart([("<i>app</i>", 2.0), ("b", 1.0)])
    assert "<i>" not in bars and bars.count("<rect") == 2


# --- from the demo's data ---------------------------------------------------------------------


def test_report_has_every_section_with_demo_data(report_html: str, demo_db: tuple[Any, str]) -> None:
    html = report_html
    for heading in (
        "Traffic and cost over time",
        "Latency",
        "Cost breakdown",
        "Quality: flag rate per detector",
        "Drift timeline",
        "Recent alerts",
        "Worst events: most detectors flagged",
        "Most expensive calls",
    ):
        assert f"<h2>{heading}</h2>" in html
    assert html.count("<polyline") >= 5  # requests, errors, cost, p50, p95, flag rates...
    assert "no data in this window" not in html
    client, _ = demo_db
    apps = [r[0] for r in client.query("SELECT DISTINCT app FROM events_dedup").result_rows]
    for app in apps:
        if app != HOSTILE_APP:
            assert app in html
    requests = client.query("SELECT count() FROM events_dedup").result_rows[0][0]
    assert f"<b>{requests:,}</b><span>requests</span>" in html
    assert "firing" in html  # the demo fires alerts
    assert "drifted" in html and "prompt_embedding" in html  # the support bot's topic drift


def test_report_compares_the_demo_releases(report_html: str) -> None:
    from lightkeeper.demo._scenario import RELEASES

    assert "<h2>Releases</h2>" in report_html
    assert f"<h3>code-assistant: {RELEASES[1]} against {RELEASES[0]}</h3>" in report_html
    assert "significantly worse than" in report_html and "cost_per_call_usd" in report_html
    assert "95% CI" in report_html


def test_report_relates_feedback_to_detectors(report_html: str, demo_db: tuple[Any, str]) -> None:
    client, _ = demo_db
    items, negative = client.query("SELECT count(), sum(negative) FROM feedback_dedup").result_rows[0]
    assert items > 0
    assert "<h2>User feedback</h2>" in report_html
    assert f"<p>{items} feedback items, {negative / items:.0%} negative" in report_html
    assert "feedback vs detectors" in report_html and "toxicity_response" in report_html
    assert "latest negative comments" in report_html and "+1 415 555 0134" not in report_html


def test_report_is_self_contained_and_small(report_html: str) -> None:
    assert "<script" not in report_html.lower().replace("&lt;script", "")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", report_html), "external resource"
    assert "@import" not in report_html and "url(" not in report_html
    assert len(report_html.encode()) < 400_000


def test_hostile_strings_are_escaped(report_html: str) -> None:
    assert HOSTILE_APP not in report_html and "<img" not in report_html and "<b>bold" not in report_html
    assert "&lt;script&gt;alert(&#x27;app&#x27;)&lt;/script&gt;" in report_html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;" in report_html
    assert "u&lt;b&gt;bold&lt;/b&gt;" in report_html


def test_empty_window_renders_placeholders(demo_db: tuple[Any, str]) -> None:
    client, database = demo_db
    html = build_report(client, database, since=timedelta(hours=1), now=datetime(2020, 1, 1, tzinfo=UTC))
    assert "<b>0</b><span>requests</span>" in html
    assert "no data in this window" in html and "no alerts in this window" in html


# --- the CLI ------------------------------------------------------------------------------------


def test_cli_writes_the_report(demo_db: tuple[Any, str], store_url: str, tmp_path: Path) -> None:
    from lightkeeper.cli.main import main

    _, database = demo_db
    out = tmp_path / "sub" / "overview.html"
    code = main(["report", "-o", str(out), "--since", "2h", "--url", store_url, "--database", database])
    assert code == 0
    assert "<h2>Recent alerts</h2>" in out.read_text()
    assert not list(out.parent.glob("*.tmp"))


def test_cli_errors_are_clear(store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lightkeeper.cli.main import main

    out = tmp_path / "o.html"
    assert main(["report", "--since", "soon", "--url", store_url, "-o", str(out)]) == 1
    assert "--since must be a positive duration" in capsys.readouterr().err
    missing = f"lk_missing_{uuid.uuid4().hex[:8]}"
    assert main(["report", "--url", store_url, "--database", missing, "-o", str(out)]) == 1
    assert "lightkeeper: error:" in capsys.readouterr().err
    assert not out.exists()


# --- in a real browser ----------------------------------------------------------------------------


def _require_chromium() -> None:
    if find_chromium() is None:
        pytest.fail(f"headless Chromium is required for the report test and was not found; {INSTALL_HINT}")


NO_ACTIVE_CONTENT = "document.querySelectorAll('script,img,iframe,object,embed,link').length"
SVG_COUNT = "document.querySelectorAll('svg.chart').length"
PAGE_HEIGHT = "document.documentElement.scrollHeight"


async def test_report_in_headless_chromium(report_html: str, tmp_path: Path) -> None:
    _require_chromium()
    page = write_report(tmp_path / "overview.html", report_html)
    screenshot = tmp_path / "overview.png"
    check = await check_page(
        page.as_uri(),
        screenshot=screenshot,
        profile_dir=tmp_path / "profile",
        expressions={"active": NO_ACTIVE_CONTENT, "charts": SVG_COUNT, "height": PAGE_HEIGHT},
    )
    assert check.problems == [], check.problems
    assert [u for u in check.requests if not u.startswith("file://")] == []  # nothing fetched
    assert check.values["active"] == 0  # the hostile <img>/<script> stayed text
    assert check.values["charts"] == 8  # 4 time charts, 3 cost bars, drift
    assert check.values["height"] > 2000
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000


async def test_browser_check_catches_console_errors(tmp_path: Path) -> None:
    """The browser check can fail: a page with errors is reported."""
    _require_chromium()
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><body><p>x</p><script>console.error('boom'); undefinedFunction();</script>"
        '<img src="missing.png"></body></html>'
    )
    check = await check_page(bad.as_uri(), screenshot=tmp_path / "bad.png", profile_dir=tmp_path / "profile")
    assert any("boom" in e for e in check.console_errors), check
    assert any("undefinedFunction" in e for e in check.exceptions), check
    assert check.failed_requests or check.log_errors, check
