"""Erasure on the embedded store: every table loses the subject's rows, other subjects keep
theirs, the rollup is rebuilt, the audit row holds no personal data, bad selectors are refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from _store_events import BASE, make_event

from lightkeeper.cli.main import main
from lightkeeper.errors import ConfigError
from lightkeeper.schemas.rows import event_row
from lightkeeper.settings import load_salt
from lightkeeper.store.erasure import ALL, Eraser, Selector, subject_hash
from lightkeeper.store.writer import BatchWriter

SALT = b"test-salt"


def _seed(client: Any, db: str) -> list[Any]:
    """Users user-0..user-6 over two tenants; user-3's prompts quoted as drift examples."""
    evs = [
        make_event(i, minute=i % 4, tenant="acme" if i % 2 else "globex", session_id=f"s-{i % 5}")
        for i in range(28)
    ]
    writer = BatchWriter(client, "events", database=db, batch_rows=100, flush_interval_s=60)
    writer.add([event_row(ev) for ev in evs])
    writer.flush()
    client.insert(
        f"{db}.scores",
        [
            [ev.event_id, det, 0.5, 1, ev.app, ev.start_time, ev.start_time]
            for ev in evs
            for det in ("pii", "toxicity")
        ],
        column_names=["event_id", "detector", "score", "flagged", "app", "event_time", "scored_at"],
    )
    client.insert(
        f"{db}.anomalies",
        [[f"an-{u}", "chat", f"user-{u}", "cost", BASE, 1.0, 3.0, BASE] for u in range(7)],
        column_names=[
            "anomaly_id",
            "app",
            "user_id",
            "metric",
            "window_start",
            "actual",
            "score",
            "detected_at",
        ],
    )
    client.insert(
        f"{db}.alerts",
        [
            [f"al-{u}", "user_cost", {"app": "chat", "user_id": f"user-{u}"}, "firing", BASE, BASE]
            for u in range(7)
        ],
        column_names=["alert_id", "rule", "labels", "state", "started_at", "updated_at"],
    )
    client.insert(
        f"{db}.drift",
        [
            ["d1", "chat", "prompt", ["Question 3?", "Question 4?", "tier=1: Question 10?"], BASE],
            ["d2", "chat", "prompt", ["Question 5?"], BASE],
        ],
        column_names=["drift_id", "app", "target", "examples", "detected_at"],
    )
    return evs


def _count(client: Any, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def _rollup_requests(client: Any, db: str) -> dict[datetime, int]:
    rows = client.query(f"SELECT minute, requests FROM {db}.rollup_minute_v").result_rows
    return {m.replace(tzinfo=None): int(n) for m, n in rows}


def test_erasing_a_user_removes_its_rows_everywhere_and_nothing_else(store_client: Any, store_database: str):
    db, client = store_database, store_client
    evs = _seed(client, db)
    mine = [ev for ev in evs if ev.user_id == "user-3"]
    assert mine
    eraser = Eraser(client, db, salt=SALT, drop_horizon_days=7)
    sel = Selector("user", "user-3")

    dry = eraser.erase(sel, requested_by="dpo", dry_run=True)
    assert dry.counts["events"] == len(mine) and dry.counts["scores"] == 2 * len(mine)
    assert dry.counts["anomalies"] == 1 and dry.counts["alerts"] == 1
    assert dry.counts["drift"] == 2  # "Question 3?" and "tier=1: Question 10?" (user-3 asked both)
    assert _count(client, f"SELECT count() FROM {db}.events") == len(evs)  # dry run changed nothing
    assert _count(client, f"SELECT count() FROM {db}.erasures") == 0

    before_rollup = _rollup_requests(client, db)
    report = eraser.erase(sel, requested_by="dpo")
    assert report.counts == dry.counts | {"rollup_minute": report.counts["rollup_minute"]}
    assert report.counts["rollup_minute"] == len({ev.start_time.replace(second=0) for ev in mine})

    assert _count(client, f"SELECT count() FROM {db}.events_dedup WHERE user_id = 'user-3'") == 0
    assert _count(client, f"SELECT count() FROM {db}.events_dedup") == len(evs) - len(mine)
    ids = tuple(ev.event_id for ev in mine)
    assert _count(client, f"SELECT count() FROM {db}.scores WHERE event_id IN {ids}") == 0
    assert _count(client, f"SELECT count() FROM {db}.scores") == 2 * (len(evs) - len(mine))
    assert _count(client, f"SELECT count() FROM {db}.anomalies WHERE user_id = 'user-3'") == 0
    assert _count(client, f"SELECT count() FROM {db}.anomalies") == 6
    assert _count(client, f"SELECT count() FROM {db}.alerts") == 6
    examples = dict(client.query(f"SELECT drift_id, examples FROM {db}.drift_dedup").result_rows)
    assert examples == {"d1": ["Question 4?"], "d2": ["Question 5?"]}

    # the rollup now counts exactly the remaining events, minute by minute
    after_rollup = _rollup_requests(client, db)
    for minute, requests in before_rollup.items():
        gone = sum(1 for ev in mine if ev.start_time.replace(second=0, tzinfo=None) == minute)
        assert after_rollup.get(minute, 0) == requests - gone

    audit = client.query(f"SELECT * FROM {db}.erasures_latest").named_results()
    (row,) = list(audit)
    assert row["requested_by"] == "dpo" and row["selector_kind"] == "user"
    assert row["selector_hash"] == subject_hash(SALT, "user", "user-3")
    assert "user-3" not in repr(row)  # no personal data in the audit row
    assert dict(row["counts"])["events"] == len(mine)
    subjects = client.query(
        f"SELECT selector_kind, selector_hash, drop_until FROM {db}.erased_subjects_latest"
    )
    ((kind, digest, drop_until),) = subjects.result_rows
    assert (kind, digest) == ("user", row["selector_hash"])
    assert drop_until.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(days=6)


def test_erasing_a_tenant_before_a_time(store_client: Any, store_database: str):
    db, client = store_database, store_client
    evs = _seed(client, db)
    cut = BASE + timedelta(minutes=2)
    matched = [ev for ev in evs if ev.tenant == "acme" and ev.start_time < cut]
    report = Eraser(client, db, salt=SALT).erase(Selector("tenant", "acme", cut), requested_by="ops")
    assert report.counts["events"] == len(matched) > 0
    left = client.query(f"SELECT event_id FROM {db}.events_dedup WHERE tenant = 'acme'").result_rows
    assert {r[0] for r in left} == {ev.event_id for ev in evs if ev.tenant == "acme" and ev.start_time >= cut}
    assert _count(client, f"SELECT count() FROM {db}.events_dedup WHERE tenant = 'globex'") == sum(
        1 for ev in evs if ev.tenant == "globex"
    )


def test_erasing_a_session_leaves_per_user_records(store_client: Any, store_database: str):
    db, client = store_database, store_client
    evs = _seed(client, db)
    report = Eraser(client, db, salt=SALT).erase(Selector("session", "s-1"), requested_by="ops")
    assert report.counts["events"] == sum(1 for ev in evs if ev.session_id == "s-1")
    assert report.counts["anomalies"] == 0 and report.counts["alerts"] == 0
    assert _count(client, f"SELECT count() FROM {db}.events_dedup WHERE session_id = 's-1'") == 0


def test_selector_that_matches_everything_is_detected(store_client: Any, store_database: str):
    db, client = store_database, store_client
    writer = BatchWriter(client, "events", database=db, batch_rows=100, flush_interval_s=60)
    writer.add([event_row(make_event(i, tenant="only")) for i in range(3)])
    writer.flush()
    eraser = Eraser(client, db, salt=SALT)
    assert eraser.matches_everything(Selector("tenant", "only"))
    assert not eraser.matches_everything(Selector("tenant", "other"))
    assert eraser.matches_everything(Selector(ALL))


def test_bad_selectors_are_refused_with_a_reason():
    with pytest.raises(ConfigError, match="value is empty"):
        Selector("user", "  ")
    with pytest.raises(ConfigError, match="unknown selector kind"):
        Selector("email", "x@example.com")


def test_cli_refuses_no_selector_several_selectors_and_match_all(
    store_url: str, store_client: Any, store_database: str, tmp_path, capsys
):
    db, client = store_database, store_client
    writer = BatchWriter(client, "events", database=db, batch_rows=100, flush_interval_s=60)
    writer.add([event_row(make_event(i, tenant="only")) for i in range(3)])
    writer.flush()
    base = ["erase", "--url", store_url, "--database", db, "--data-dir", str(tmp_path)]

    assert main(base) == 1
    assert "needs a selector" in capsys.readouterr().err
    assert main([*base, "--user", "a", "--session", "b"]) == 1
    assert "one selector" in capsys.readouterr().err
    assert main([*base, "--tenant", "only"]) == 1
    assert "matches every stored event" in capsys.readouterr().err
    assert main([*base, "--before", "yesterday", "--user", "x"]) == 1
    assert "ISO 8601" in capsys.readouterr().err
    assert _count(client, f"SELECT count() FROM {db}.events") == 3  # nothing lost

    assert main([*base, "--user", "user-1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would remove 1 rows" in out and "dry run" in out and "would rebuild 1 minutes" in out
    assert main([*base, "--tenant", "only", "--yes-all", "--by", "dpo"]) == 0
    out = capsys.readouterr().out
    assert "recorded as erasure" in out and "only" not in out.split("recorded")[0].split(":")[0]
    assert _count(client, f"SELECT count() FROM {db}.events_dedup") == 0
    assert (tmp_path / "erasure.salt").stat().st_mode & 0o077 == 0


def test_salt_is_created_once_and_configured_salt_wins(tmp_path):
    first = load_salt(None, tmp_path)
    assert len(first) == 64 and load_salt(None, tmp_path) == first
    assert load_salt("configured", tmp_path) == b"configured"


class _ClusterNode:
    """Records statements; answers the reads an erasure makes with one matching row each."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.queries: list[str] = []
        self.inserts: list[str] = []

    def query(self, sql: str, parameters: Any = None) -> Any:
        self.queries.append(" ".join(sql.split()))
        if "system.tables" in sql:
            rows: list[Any] = [
                [t] for t in ("events", "scores", "anomalies", "alerts", "drift", "rollup_minute")
            ]
        elif "groupUniqArray" in sql:
            rows = [["chat", [1_700_000_040]]]
        elif "input_messages" in sql:
            rows = [["chat", '[{"role": "user", "content": "hello"}]', "hi"]]
        elif "examples" in sql:
            rows = [["d1", "chat", ["hello", "other"]]]
        else:
            rows = [[1]]
        return type("R", (), {"result_rows": rows})()

    def command(self, sql: str, parameters: Any = None, settings: Any = None) -> None:
        self.commands.append(" ".join(sql.split()))

    def insert(self, table: str, *args: Any, **kwargs: Any) -> None:
        self.inserts.append(table)


@pytest.mark.parametrize("kind", ["user", "tenant", "session"])
def test_cluster_erasure_targets_every_node_and_parses(kind: str, store_client: Any):
    node = _ClusterNode()
    Eraser(node, "lightkeeper", salt=SALT, cluster="lk_cluster").erase(Selector(kind, "v"), requested_by="t")
    alters = [c for c in node.commands if c.startswith("ALTER")]
    assert {c.split()[2] for c in alters} >= {"lightkeeper.events", "lightkeeper.scores", "lightkeeper.drift"}
    assert all("ON CLUSTER `lk_cluster`" in c for c in alters)
    reads = [q for q in node.queries if "system.tables" not in q]
    assert all(re.search(r"FROM lightkeeper\.\w+_all\b", q) for q in reads), reads
    assert set(node.inserts) == {"lightkeeper.erasures_all", "lightkeeper.erased_subjects_all"}
    for statement in [*node.commands, *reads]:
        formatted = store_client.query(
            "SELECT formatQuerySingleLine({q:String})", parameters={"q": statement}
        ).result_rows[0][0]
        assert formatted, statement
