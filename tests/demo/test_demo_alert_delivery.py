"""Alerts raised in the embedded runtime are delivered to the configured routes (loopback Slack
and PagerDuty) and their delivery status lands in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lightkeeper.demo import DemoOptions, run


async def test_demo_alerts_reach_slack_and_pagerduty_once(
    tmp_path: Path,
    store_url: str,
    store_database: str,
    store_client: Any,
    slack_loopback: Any,
    pagerduty_loopback: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "lightkeeper.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "alerts": {
                    "routes": {
                        "oncall-slack": {
                            "type": "slack",
                            "token": slack_loopback.token,
                            "channel": "#llm-alerts",
                            "base_url": slack_loopback.api_url,
                            "timeout_s": 2,
                        },
                        "pager": {
                            "type": "pagerduty",
                            "routing_key": "R" * 32,
                            "base_url": pagerduty_loopback.url,
                            "timeout_s": 2,
                            "min_severity": "high",
                        },
                    },
                    "default_routes": ["oncall-slack", "pager"],
                }
            }
        )
    )
    monkeypatch.setenv("LIGHTKEEPER_CONFIG", str(config))
    options = DemoOptions(
        events=400,
        stages=["anomalies", "alerts"],  # no ML needed: the cost spike rule fires on cost alone
        store_url=store_url,
        database=store_database,
        data_dir=tmp_path,
        latency_ms=5,
        progress=False,
        config=str(config),
    )
    summary = await run(options, client=store_client)

    fired = {a for a in summary.alerts if "user-cost-spike" in str(a)}
    assert fired, summary.alerts
    slack_texts = [str(m) for m in slack_loopback.messages()]
    assert any("user-cost-spike" in t and "mallory" in t for t in slack_texts), slack_texts
    pd_events = [r.json for r in pagerduty_loopback.accepted()]
    triggers = [e for e in pd_events if e.get("event_action") == "trigger"]
    assert triggers, pd_events
    keys = [e["dedup_key"] for e in triggers]
    assert len(keys) == len(set(keys)), "one trigger per alert: no duplicate notification"
    sent = store_client.query(
        f"SELECT countIf(delivery_status = 'sent') FROM {store_database}.alerts FINAL"
    ).result_rows[0][0]
    assert sent >= 1
