"""``lightkeeper alerts ...`` end to end (in-process)."""

from __future__ import annotations

import pytest
import yaml

from lightkeeper.alerts.loopback.pagerduty import PagerDutyLoopback
from lightkeeper.alerts.loopback.slack import Action, SlackLoopback
from lightkeeper.cli.main import main


@pytest.fixture
def config(tmp_path):
    def write(**alerts: object) -> str:
        path = tmp_path / "lightkeeper.yaml"
        path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "alerts": alerts}))
        return str(path)

    return write


def test_rules_validate_ok_and_errors(config, tmp_path, capsys):
    cfg = config(
        routes={
            "slack-oncall": {"type": "webhook", "url": "http://127.0.0.1:9/x"},
            "pagerduty": {"type": "pagerduty", "routing_key": "k"},
        }
    )
    assert main(["--config", cfg, "alerts", "rules", "validate", "alerts/examples/rules.yaml"]) == 0
    assert "7 rule(s) valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n  - name: x\n    metric: error_rate\n    threshold: 0.1\n    window: 10 minutes\n"
    )
    assert main(["--config", cfg, "alerts", "rules", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "rule 'x': field 'window'" in err


def test_silence_list_unsilence(config, capsys):
    cfg = config()
    assert (
        main(
            [
                "--config",
                cfg,
                "alerts",
                "silence",
                "app=chat",
                "alertname=~tox.*",
                "--duration",
                "1h",
                "--comment",
                "deploy",
                "--by",
                "me",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    sid = out.rsplit("(id ", 1)[1].rstrip(")\n")
    assert main(["--config", cfg, "alerts", "silence", "--list"]) == 0
    listed = capsys.readouterr().out
    assert sid in listed and "app=chat alertname=~tox.*" in listed and "deploy" in listed
    assert main(["--config", cfg, "alerts", "unsilence", sid]) == 0
    assert main(["--config", cfg, "alerts", "unsilence", sid]) == 1
    assert main(["--config", cfg, "alerts", "silence", "app~chat"]) == 1
    assert "invalid matcher" in capsys.readouterr().err


def test_test_route_slack_and_pagerduty(config, capsys):
    slack, pd = SlackLoopback(), PagerDutyLoopback()
    slack.script("/api/chat.postMessage", Action(429, retry_after=0.05))
    with slack.threaded(), pd.threaded():
        cfg = config(
            routes={
                "slack": {
                    "type": "slack",
                    "token": slack.token,
                    "channel": "#alerts",
                    "base_url": slack.api_url,
                },
                "pd": {"type": "pagerduty", "routing_key": "k" * 32, "base_url": pd.url},
            }
        )
        assert main(["--config", cfg, "alerts", "test", "--route", "slack"]) == 0
        assert main(["--config", cfg, "alerts", "test", "--route", "pd"]) == 0
        assert main(["--config", cfg, "alerts", "test", "--route", "nope"]) == 1
    assert len(slack.accepted()) == 1 and len(slack.requests) == 2  # retried after the 429
    assert pd.events()[0]["payload"]["severity"] == "info"
    assert "unknown route 'nope'" in capsys.readouterr().err


def test_list_local_state(config, tmp_path, capsys):
    from alert_helpers import minute, point

    from lightkeeper.alerts.lifecycle import AlertEngine
    from lightkeeper.alerts.outbox import Outbox
    from lightkeeper.alerts.rules import parse_rules

    box = Outbox(tmp_path / "data" / "alerts" / "outbox.sqlite3")
    rules = parse_rules(
        {"rules": [{"name": "errs", "metric": "error_rate", "threshold": 0.1, "group_by": ["app"]}]}
    )
    engine = AlertEngine(rules, outbox=box)
    for i in range(6):
        engine.observe([point("error_rate", 0.5, i, 100)])
        engine.tick(minute(i + 1))
    box.close()
    assert main(["--config", config(), "alerts", "list", "--local"]) == 0
    out = capsys.readouterr().out
    assert "firing" in out and "errs" in out and "app=chat" in out


def test_list_from_store(store_url, store_database, store_client, tmp_path, capsys):
    from datetime import UTC, datetime, timedelta

    from lightkeeper.alerts.store import StoreHistory
    from lightkeeper.schemas.records import AlertRecord, AlertState, DeliveryStatus

    now = datetime.now(UTC)
    history = StoreHistory(store_client, database=store_database)
    base = dict(
        alert_id="a-1",
        rule="errors-high",
        dedup_key="lk-x",
        labels={"app": "chat"},
        value=0.4,
        threshold=0.1,
        started_at=now,
    )
    history.write(
        [AlertRecord(state=AlertState.FIRING, delivery_status=DeliveryStatus.QUEUED, updated_at=now, **base)]
    )
    history.write(
        [
            AlertRecord(
                state=AlertState.FIRING,
                delivery_status=DeliveryStatus.SENT,
                attempts=1,
                updated_at=now + timedelta(seconds=1),
                **base,
            )
        ]
    )
    history.close()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump({"data_dir": str(tmp_path), "store": {"url": store_url, "database": store_database}})
    )
    assert main(["--config", str(cfg), "alerts", "list", "--state", "firing"]) == 0
    out = capsys.readouterr().out
    assert "errors-high" in out and "sent" in out and "app=chat" in out and out.count("errors-high") == 1
