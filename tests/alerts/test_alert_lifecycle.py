"""Pending → firing → resolved, dedup keys, re-notify, grouping, silences, restarts."""

from __future__ import annotations

import itertools
from datetime import timedelta

from alert_helpers import minute, point

from lightkeeper.alerts.delivery import Dispatcher, build_channels
from lightkeeper.alerts.lifecycle import AlertEngine
from lightkeeper.alerts.outbox import Outbox
from lightkeeper.alerts.rules import parse_rules
from lightkeeper.alerts.silences import SilenceStore
from lightkeeper.schemas.records import AlertRecord

RULE = {
    "name": "errors-high",
    "metric": "error_rate",
    "aggregate": "avg",
    "window": "5m",
    "threshold": 0.1,
    "min_weight": 50,
    "group_by": ["app", "model"],
    "for": "2m",
    "severity": "high",
    "renotify": "10m",
    "routes": ["pagerduty", "webhook"],
}


class ListHistory:
    def __init__(self) -> None:
        self.records: list[AlertRecord] = []

    def write(self, records: list[AlertRecord]) -> None:
        self.records.extend(records)


def _engine(outbox: Outbox, tmp_path, **rule_over: object) -> tuple[AlertEngine, ListHistory]:
    rules = parse_rules({"rules": [{**RULE, **rule_over}]})
    history = ListHistory()
    engine = AlertEngine(
        rules, outbox=outbox, silences=SilenceStore(tmp_path / "silences.json"), history=history
    )
    return engine, history


def _feed(
    engine: AlertEngine, start: int, stop: int, rate: float, models: tuple[str, ...] = ("gpt-x",)
) -> list:
    notes = []
    for i in range(start, stop):
        engine.observe([point("error_rate", rate, i, 100, app="chat", model=m) for m in models])
        notes.extend(engine.tick(minute(i + 1)))
    return notes


async def test_fire_then_resolve_with_same_dedup_key(
    alert_outbox, alert_routes, pagerduty_loopback, webhook_loopback, tmp_path
):
    engine, history = _engine(alert_outbox, tmp_path)
    assert _feed(engine, 0, 10, 0.01) == []
    notes = _feed(engine, 10, 13, 0.5)  # breached from the tick at minute 11; fires 2 minutes later
    assert [n.kind for n in notes] == ["firing"]
    assert notes[0].event_time == minute(13)
    states = [r.state.value for r in history.records]
    assert states == ["pending", "firing"]
    assert history.records[0].alert_id == history.records[1].alert_id
    notes += _feed(engine, 13, 25, 0.01)
    assert [n.kind for n in notes] == ["firing", "resolved"]
    assert notes[0].incident_key == notes[1].incident_key
    dispatcher = Dispatcher(
        alert_outbox, build_channels({k: alert_routes[k] for k in ("pagerduty", "webhook")})
    )
    await dispatcher.drain()
    await dispatcher.aclose()
    events = pagerduty_loopback.events()
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    assert events[0]["dedup_key"] == events[1]["dedup_key"] == notes[0].incident_key
    assert pagerduty_loopback.incidents == {notes[0].incident_key: "resolved"}
    assert len(webhook_loopback.unique_deliveries()) == 2
    assert history.records[-1].state.value == "resolved"


def test_dedup_key_stable_across_episodes(alert_outbox, tmp_path):
    engine, _ = _engine(alert_outbox, tmp_path, **{"for": "0s"})
    _feed(engine, 0, 6, 0.01)
    first = _feed(engine, 6, 8, 0.5) + _feed(engine, 8, 16, 0.01)
    second = _feed(engine, 16, 18, 0.5) + _feed(engine, 18, 26, 0.01)
    assert [n.kind for n in first] == [n.kind for n in second] == ["firing", "resolved"]
    assert first[0].incident_key == second[0].incident_key  # stable per rule + group
    assert first[0].key != second[0].key  # but each state change has its own idempotency key


def test_short_blip_stays_pending(alert_outbox, tmp_path):
    engine, history = _engine(alert_outbox, tmp_path, window="1m")
    _feed(engine, 0, 6, 0.01)
    assert _feed(engine, 6, 7, 0.5) + _feed(engine, 7, 12, 0.01) == []
    assert [(r.state.value, r.delivery_status.value) for r in history.records] == [
        ("pending", "skipped"),
        ("resolved", "skipped"),
    ]


def test_renotify_interval(alert_outbox, tmp_path):
    engine, _ = _engine(alert_outbox, tmp_path)
    _feed(engine, 0, 6, 0.01)
    notes = _feed(engine, 6, 30, 0.5)
    kinds = [n.kind for n in notes]
    assert kinds == ["firing", "renotify", "renotify"]
    gaps = [(b.event_time - a.event_time) for a, b in itertools.pairwise(notes)]
    assert all(g == timedelta(minutes=10) for g in gaps)


def test_grouping_many_keys_one_notification(alert_outbox, tmp_path):
    engine, _ = _engine(alert_outbox, tmp_path, notify_by=["app"], renotify=None)
    models = tuple(f"m{i}" for i in range(5))
    _feed(engine, 0, 6, 0.01, models)
    notes = _feed(engine, 6, 12, 0.5, models)
    assert len(notes) == 1 and len(notes[0].alerts) == 5
    assert {a.labels["model"] for a in notes[0].alerts} == set(models)
    notes = _feed(engine, 12, 20, 0.01, models)
    assert [n.kind for n in notes] == ["resolved"] and len(notes[0].alerts) == 5
    keys = [i.key for i in alert_outbox.items()]
    assert len(keys) == 4  # (firing, resolved) x 2 routes


def test_group_wait_collects_late_joiners(alert_outbox, tmp_path):
    engine, _ = _engine(
        alert_outbox, tmp_path, notify_by=["app"], group_wait="3m", renotify=None, **{"for": "0s"}
    )
    _feed(engine, 0, 6, 0.01, ("a", "b"))
    for i in range(6, 12):
        engine.observe([point("error_rate", 0.5, i, 100, app="chat", model="a")])
        engine.observe([point("error_rate", 0.5 if i >= 7 else 0.01, i, 100, app="chat", model="b")])
        engine.tick(minute(i + 1))
    notes = engine.notifications_sent
    assert notes[0].kind == "firing" and len(notes[0].alerts) == 2


def test_silence_mutes_then_expiry_notifies(alert_outbox, tmp_path):
    engine, history = _engine(alert_outbox, tmp_path)
    assert engine.silences is not None
    silence = engine.silences.add(["app=chat", "alertname=~errors-.*"], timedelta(minutes=11), now=minute(0))
    _feed(engine, 0, 6, 0.01)
    assert _feed(engine, 6, 9, 0.5) == []  # would fire at minute 9: silenced
    silenced = alert_outbox.items("silenced")
    assert len(silenced) == 2 and "silenced" in [r.delivery_status.value for r in history.records]
    assert _feed(engine, 9, 10, 0.5) == []  # not repeated each tick
    notes = _feed(engine, 10, 11, 0.5)  # silence ended at minute 11
    assert [n.kind for n in notes] == ["firing"]
    assert engine.silences.remove(silence.id)


def test_silence_for_other_labels_does_not_mute(alert_outbox, tmp_path):
    engine, _ = _engine(alert_outbox, tmp_path)
    assert engine.silences is not None
    engine.silences.add(["app=other"], timedelta(hours=1), now=minute(0))
    _feed(engine, 0, 6, 0.01)
    assert [n.kind for n in _feed(engine, 6, 9, 0.5)] == ["firing"]


def test_restart_keeps_state_no_duplicate(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    engine, _ = _engine(box, tmp_path)
    _feed(engine, 0, 6, 0.01)
    assert [n.kind for n in _feed(engine, 6, 9, 0.5)] == ["firing"]
    box.close()
    box2 = Outbox(path)  # restart: new process, same files
    engine2, _ = _engine(box2, tmp_path)
    assert len(engine2.alerts) == 1
    # The window buffer is empty after a restart: no resolve until a full window was observed.
    assert _feed(engine2, 9, 11, 0.5) == []
    notes = _feed(engine2, 11, 20, 0.01)
    assert [n.kind for n in notes] == ["resolved"]
    assert len(box2.items()) == 4  # firing + resolved, two routes, no duplicates
    box2.close()


def test_renotify_not_duplicated_by_reenqueue(alert_outbox, tmp_path):
    engine, _ = _engine(alert_outbox, tmp_path)
    _feed(engine, 0, 6, 0.01)
    [note] = _feed(engine, 6, 9, 0.5)
    assert not alert_outbox.enqueue(f"{note.key}|pagerduty", "pagerduty", note.to_json(), 0.0)


async def test_build_alerting_end_to_end(tmp_path, alert_routes, slack_loopback, pagerduty_loopback):
    import yaml

    from lightkeeper.alerts.runtime import build_alerting
    from lightkeeper.alerts.settings import AlertSettings

    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"rules": [{**RULE, "routes": ["slack", "pagerduty"]}]}))
    settings = AlertSettings(
        data_dir=tmp_path,
        rules_file=rules_file,
        routes={k: alert_routes[k] for k in ("slack", "pagerduty")},
    )
    history = ListHistory()
    engine, dispatcher = build_alerting(settings, history=history)
    _feed(engine, 0, 6, 0.01)
    _feed(engine, 6, 9, 0.5)
    await dispatcher.drain()
    _feed(engine, 9, 20, 0.01)
    await dispatcher.drain()
    await dispatcher.aclose()
    assert len(slack_loopback.accepted()) == 2
    assert list(pagerduty_loopback.incidents.values()) == ["resolved"]
    assert {r.delivery_status.value for r in history.records} >= {"queued", "sent"}


def test_late_joiner_updates_partial_resolve_is_quiet(alert_outbox, tmp_path):
    engine, _ = _engine(alert_outbox, tmp_path, notify_by=["app"], renotify=None, **{"for": "0s"})
    _feed(engine, 0, 6, 0.01, ("a", "b"))
    kinds = []
    for i in range(6, 30):
        a = 0.5 if i < 20 else 0.01
        b = 0.5 if 9 <= i < 25 else 0.01
        engine.observe(
            [
                point("error_rate", a, i, 100, app="chat", model="a"),
                point("error_rate", b, i, 100, app="chat", model="b"),
            ]
        )
        kinds += [(n.kind, len(n.firing)) for n in engine.tick(minute(i + 1))]
    # fire (a), update when b joins, nothing when a resolves alone, resolved when b does too
    assert kinds == [("firing", 1), ("update", 2), ("resolved", 0)]
