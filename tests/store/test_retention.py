"""Per-tenant retention overrides: rendered as TTL rules, applied by migrate (embedded and ON
CLUSTER), idempotent, and an expired tenant's rows disappear while others stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from test_cluster_variant import CLUSTER, RecordingClient

from lightkeeper.errors import ConfigError
from lightkeeper.settings import LightkeeperSettings
from lightkeeper.store._ttl import current_ttl, declared_ttls, reconcile_ttls, ttl_rules
from lightkeeper.store.migrate import discover, migrate, split_statements


def test_ttl_rules() -> None:
    assert ttl_rules("t", 90) == "toDateTime(t) + toIntervalDay(90)"
    assert ttl_rules("t", 0) == ""
    assert ttl_rules("t", 90, {"b": 7, "a": 0, "o'q": 400}) == (
        "toDateTime(t) + toIntervalDay(90) DELETE WHERE tenant NOT IN ('a', 'b', 'o\\'q'), "
        "toDateTime(t) + toIntervalDay(7) DELETE WHERE tenant = 'b', "
        "toDateTime(t) + toIntervalDay(400) DELETE WHERE tenant = 'o\\'q'"
    )
    assert ttl_rules("t", 0, {"b": 7}) == "toDateTime(t) + toIntervalDay(7) DELETE WHERE tenant = 'b'"


def test_settings_refuse_negative_days() -> None:
    with pytest.raises(ConfigError, match="tenant_retention_days"):
        LightkeeperSettings.load(None, store__tenant_retention_days={"acme": -1})
    settings = LightkeeperSettings.load(None, store__tenant_retention_days={"acme": 7})
    assert settings.store.migrate_kwargs()["tenant_retention_days"] == {"acme": 7}


def test_an_expired_tenants_rows_disappear(store_client: Any, store_database: str) -> None:
    db, client = store_database, store_client
    assert migrate(client, db, events_ttl_days=5, tenant_retention_days={"short": 1, "forever": 0}) == []
    old = datetime.now(UTC) - timedelta(days=3)
    ancient = datetime.now(UTC) - timedelta(days=30)
    rows = [
        ["short-old", "short", old],
        ["short-new", "short", datetime.now(UTC)],
        ["other-old", "other", old],
        ["other-ancient", "other", ancient],
        ["forever-ancient", "forever", ancient],
    ]
    client.insert(f"{db}.events", rows, column_names=["event_id", "tenant", "start_time"])
    client.insert(
        f"{db}.feedback",
        [["f1", "short", old], ["f2", "other", old]],
        column_names=["feedback_id", "tenant", "received_at"],
    )
    client.command(f"OPTIMIZE TABLE {db}.events FINAL")
    client.command(f"OPTIMIZE TABLE {db}.feedback FINAL")
    left = {r[0] for r in client.query(f"SELECT event_id FROM {db}.events").result_rows}
    assert left == {"short-new", "other-old", "forever-ancient"}
    assert {r[0] for r in client.query(f"SELECT feedback_id FROM {db}.feedback").result_rows} == {"f2"}


def test_overrides_are_applied_once_and_removed_again(store_client: Any, store_database: str) -> None:
    db, client = store_database, store_client
    declared = declared_ttls([s for m in discover() for s in split_statements(m.text)])
    days = {"ttl_events": 90, "ttl_derived": 365}
    changed = reconcile_ttls(client, db, declared, days, tenant_days={"acme": 7})
    assert set(changed) == {"events", "feedback"}
    assert "tenant = 'acme'" in current_ttl(client, db, "events")
    assert reconcile_ttls(client, db, declared, days, tenant_days={"acme": 7}) == {}
    assert migrate(client, db) == []  # default settings: the overrides go
    assert "tenant" not in current_ttl(client, db, "events")
    assert current_ttl(client, db, "scores") == "toDateTime(event_time) + toIntervalDay(365)"


def test_overrides_on_a_cluster_alter_every_node() -> None:
    node = RecordingClient()
    migrate(node, "lightkeeper", CLUSTER, tenant_retention_days={"acme": 7})
    alters = [c for c in node.commands if c.startswith("ALTER") and "MODIFY TTL" in c]
    by_table = {c.split()[2]: c for c in alters}
    assert f"ON CLUSTER `{CLUSTER}`" in by_table["lightkeeper.events"]
    assert "DELETE WHERE tenant = 'acme'" in by_table["lightkeeper.events"]
    assert "DELETE WHERE tenant = 'acme'" in by_table["lightkeeper.feedback"]
    assert "tenant" not in by_table["lightkeeper.scores"]
