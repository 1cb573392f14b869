"""Erasure of a data subject (``lightkeeper erase``): a user, a tenant or a session.

What is removed, per table (only rows that started before ``before`` when it is given):

* ``events``: the subject's events (``user_id`` / ``tenant`` / ``session_id`` equal to the value);
* ``scores``: every detector score of those events (``event_id`` of a matched event);
* ``feedback``: feedback on those events, and feedback given by the user / in the session;
* ``anomalies``: per-user anomalies of the user (for a tenant: of the users seen in the tenant);
* ``alerts``: alert episodes labelled with the user (for a tenant: with its users);
* ``drift``: drift results keep their statistics, but their example texts taken from the
  subject's prompts or responses are removed (``counts['drift']`` is the examples removed);
* ``rollup_minute``: the minutes the subject's events fell into are rebuilt from the events that
  remain (counted as minutes rebuilt). The rebuild re-inserts the remaining events of those
  minutes into ``events``; copies collapse like any redelivery (read through ``events_dedup``).

Deletions are synchronous mutations (``ALTER TABLE ... DELETE`` with ``mutations_sync = 2``),
``ON CLUSTER`` on a cluster, where reads go through the Distributed ``*_all`` tables. Each run is
recorded in ``erasures`` with a salted hash of the selector (never the value), and the subject
in ``erased_subjects`` so the worker drops its late events (:mod:`lightkeeper.processors.erased`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from lightkeeper.errors import ConfigError, StoreError
from lightkeeper.ids import uuid7_str
from lightkeeper.store.client import check_identifier

#: Selector kind -> the ``events`` column it matches.
SELECTOR_COLUMNS = {"user": "user_id", "tenant": "tenant", "session": "session_id"}
ALL = "all"
_SYNC = {"mutations_sync": 2}
#: Tables whose rows are counted, in the order they are processed (``events`` after the tables
#: found through it; the rollup last, from what remains).
TABLES = ("scores", "feedback", "anomalies", "alerts", "drift", "events", "rollup_minute")


@dataclass(frozen=True)
class Selector:
    """What to erase: ``kind`` user / tenant / session (or ``all``), its value, a cut-off."""

    kind: str
    value: str = ""
    before: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in (*SELECTOR_COLUMNS, ALL):
            raise ConfigError(f"unknown selector kind {self.kind!r}: use user, tenant, session or all")
        if self.kind != ALL and not self.value.strip():
            raise ConfigError(
                f"the --{self.kind} value is empty; an empty value would match every event without "
                f"a {self.kind} (use --yes-all without a selector to erase everything)"
            )
        if self.before is not None and self.before.tzinfo is None:
            object.__setattr__(self, "before", self.before.replace(tzinfo=UTC))


def subject_hash(salt: bytes, kind: str, value: str) -> str:
    """Hex HMAC-SHA256 of ``kind:value`` under ``salt`` (what ``erasures`` and the worker use)."""
    return hmac.new(salt, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


@dataclass
class ErasureReport:
    """Rows matched (dry run) or removed, per table, and the audit record's identity."""

    erasure_id: str
    selector_kind: str
    selector_hash: str
    before: datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    drop_until: datetime | None = None


class Eraser:
    """Counts and removes a subject's rows in one database (embedded, server or cluster)."""

    def __init__(
        self,
        client: Any,
        database: str,
        *,
        salt: bytes,
        cluster: str | None = None,
        drop_horizon_days: int = 30,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.db = check_identifier(database)
        self.cluster = check_identifier(cluster, "cluster") if cluster else None
        self.salt = salt
        self.drop_horizon_days = drop_horizon_days
        self.clock = clock
        self._tables = self._existing_tables()

    @property
    def tables(self) -> frozenset[str]:
        """The tables of the database (as found when the eraser was made)."""
        return frozenset(self._tables)

    # names ----------------------------------------------------------------------------------
    def _read(self, table: str) -> str:
        """Table to read from / insert into: the Distributed one on a cluster."""
        return f"{self.db}.{table}_all" if self.cluster else f"{self.db}.{table}"

    def _alter(self, table: str) -> str:
        on_cluster = f" ON CLUSTER `{self.cluster}`" if self.cluster else ""
        return f"ALTER TABLE {self.db}.{table}{on_cluster}"

    def _existing_tables(self) -> set[str]:
        rows = self.client.query(
            "SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": self.db}
        ).result_rows
        return {str(r[0]) for r in rows}

    # selection ------------------------------------------------------------------------------
    def _params(self, sel: Selector) -> dict[str, Any]:
        params: dict[str, Any] = {"value": sel.value}
        if sel.before is not None:
            params["before_ms"] = int(sel.before.timestamp() * 1000)
        return params

    def _cut(self, sel: Selector, column: str) -> str:
        if sel.before is None:
            return ""
        return f" AND {column} < fromUnixTimestamp64Milli({{before_ms:Int64}}, 'UTC')"

    def _events_where(self, sel: Selector) -> str:
        match = "1" if sel.kind == ALL else f"{SELECTOR_COLUMNS[sel.kind]} = {{value:String}}"
        return match + self._cut(sel, "start_time")

    def _event_ids(self, sel: Selector) -> str:
        # co-sharded with scores/feedback by event_id: the local table answers on each shard
        return f"(SELECT event_id FROM {self.db}.events WHERE {self._events_where(sel)})"

    def _users(self, sel: Selector) -> str:
        """Users whose per-user records (anomalies, alerts) belong to the subject."""
        if sel.kind == "user":
            return "({value:String})"
        return (
            f"(SELECT DISTINCT user_id FROM {self._read('events')} "
            f"WHERE {self._events_where(sel)} AND user_id != '')"
        )

    def _where(self, table: str, sel: Selector) -> str | None:
        """The WHERE of a deleting table, ``None`` when the selector does not reach it."""
        if table == "events":
            return self._events_where(sel)
        if table == "scores":
            if sel.kind == ALL:
                return "1" + self._cut(sel, "event_time")
            return f"event_id IN {self._event_ids(sel)}"
        if table == "feedback":
            if sel.kind == ALL:
                return "1" + self._cut(sel, "received_at")
            own = {"user": "user_id", "session": "session_id", "tenant": "tenant"}[sel.kind]
            return (
                f"(event_id IN {self._event_ids(sel)} OR ({own} = {{value:String}}"
                f"{self._cut(sel, 'received_at')}))"
            )
        if table == "anomalies":
            if sel.kind == ALL:
                return "1" + self._cut(sel, "window_start")
            if sel.kind == "session":
                return None
            return f"user_id IN {self._users(sel)}" + self._cut(sel, "window_start")
        if table == "alerts":
            if sel.kind == ALL:
                return "1" + self._cut(sel, "started_at")
            if sel.kind == "session":
                return None
            where = f"labels['user_id'] IN {self._users(sel)}"
            if sel.kind == "tenant":
                where = f"({where} OR labels['tenant'] = {{value:String}})"
            return where + self._cut(sel, "started_at")
        raise AssertionError(table)

    def _count(self, table: str, where: str, sel: Selector) -> int:
        sql = f"SELECT count() FROM {self._read(table)} WHERE {where}"
        return int(self.client.query(sql, parameters=self._params(sel)).result_rows[0][0])

    # public ---------------------------------------------------------------------------------
    def count(self, sel: Selector) -> dict[str, int]:
        """Rows each table would lose (drift: examples; rollup_minute: minutes rebuilt)."""
        counts: dict[str, int] = {}
        for table in TABLES:
            if table not in self._tables:
                continue
            if table == "drift":
                counts[table] = sum(len(old) - len(new) for _, old, new in self._drift_changes(sel))
            elif table == "rollup_minute":
                counts[table] = sum(len(m) for m in self._rollup_minutes(sel).values())
            else:
                where = self._where(table, sel)
                counts[table] = 0 if where is None else self._count(table, where, sel)
        return counts

    def matches_everything(self, sel: Selector) -> bool:
        """True when the selector matches every stored event (and there is at least one)."""
        if sel.kind == ALL:
            return True
        total = self._count("events", "1", sel)
        return total > 0 and self._count("events", self._events_where(sel), sel) == total

    def erase(self, sel: Selector, *, requested_by: str, dry_run: bool = False) -> ErasureReport:
        """Remove the subject's rows (or only count them with ``dry_run``); record the run."""
        started = self.clock()
        report = ErasureReport(
            erasure_id=uuid7_str(),
            selector_kind=sel.kind,
            selector_hash=subject_hash(self.salt, sel.kind, sel.value),
            before=sel.before,
            dry_run=dry_run,
        )
        if dry_run:
            report.counts = self.count(sel)
            return report
        try:
            report.counts = self._erase(sel)
        except Exception as exc:
            raise StoreError(f"erasure stopped part-way (run it again to finish): {exc}") from exc
        if sel.kind != ALL and self.drop_horizon_days > 0:
            report.drop_until = started + timedelta(days=self.drop_horizon_days)
            self.client.insert(
                self._read("erased_subjects"),
                [[sel.kind, report.selector_hash, sel.before, started, report.drop_until]],
                column_names=["selector_kind", "selector_hash", "before", "erased_at", "drop_until"],
            )
        self.client.insert(
            self._read("erasures"),
            [
                [
                    report.erasure_id,
                    requested_by,
                    sel.kind,
                    report.selector_hash,
                    sel.before,
                    report.counts,
                    report.drop_until,
                    started,
                    self.clock(),
                ]
            ],
            column_names=[
                "erasure_id",
                "requested_by",
                "selector_kind",
                "selector_hash",
                "before",
                "counts",
                "drop_until",
                "requested_at",
                "finished_at",
            ],
        )
        return report

    def _erase(self, sel: Selector) -> dict[str, int]:
        params = self._params(sel)
        counts: dict[str, int] = {}
        # found through the events (or their users): before the events go
        rollup = self._rollup_minutes(sel) if "rollup_minute" in self._tables else {}
        drift = self._drift_changes(sel) if "drift" in self._tables else []
        for table in ("scores", "feedback", "anomalies", "alerts"):
            if table not in self._tables:
                continue
            where = self._where(table, sel)
            if where is None:
                counts[table] = 0
                continue
            counts[table] = self._count(table, where, sel)
            if counts[table]:
                self.client.command(
                    f"{self._alter(table)} DELETE WHERE {where}", parameters=params, settings=_SYNC
                )
        for drift_id, _old, new in drift:
            self.client.command(
                f"{self._alter('drift')} UPDATE examples = {{examples:Array(String)}} "
                f"WHERE drift_id = {{drift_id:String}}",
                parameters={"examples": new, "drift_id": drift_id},
                settings=_SYNC,
            )
        if "drift" in self._tables:
            counts["drift"] = sum(len(old) - len(new) for _, old, new in drift)
        where = self._events_where(sel)
        counts["events"] = self._count("events", where, sel)
        if counts["events"]:
            self.client.command(
                f"{self._alter('events')} DELETE WHERE {where}", parameters=params, settings=_SYNC
            )
        if "rollup_minute" in self._tables:
            counts["rollup_minute"] = self._rebuild_rollup(rollup)
        return counts

    # rollup ---------------------------------------------------------------------------------
    def _rollup_minutes(self, sel: Selector) -> dict[str, list[int]]:
        """app -> the minutes (epoch seconds) holding the subject's events."""
        rows = self.client.query(
            f"SELECT app, groupUniqArray(toUInt32(toStartOfMinute(start_time))) "
            f"FROM {self._read('events')} WHERE {self._events_where(sel)} GROUP BY app",
            parameters=self._params(sel),
        ).result_rows
        return {str(app): sorted(int(m) for m in minutes) for app, minutes in rows}

    def _rebuild_rollup(self, minutes: dict[str, list[int]]) -> int:
        """Drop the rollup rows of those minutes and rebuild them from the remaining events:
        re-inserting the events (one copy each) fires the rollup's materialized view again."""
        rebuilt = 0
        for app, mins in minutes.items():
            params = {"app": app, "minutes": mins}
            in_minutes = "app = {app:String} AND toUInt32(minute) IN {minutes:Array(UInt32)}"
            self.client.command(
                f"{self._alter('rollup_minute')} DELETE WHERE {in_minutes}", parameters=params, settings=_SYNC
            )
            self.client.command(
                f"INSERT INTO {self._read('events')} SELECT * FROM {self._read('events')} FINAL "
                f"WHERE app = {{app:String}} "
                f"AND toUInt32(toStartOfMinute(start_time)) IN {{minutes:Array(UInt32)}}",
                parameters=params,
            )
            rebuilt += len(mins)
        return rebuilt

    # drift examples -------------------------------------------------------------------------
    def _drift_changes(self, sel: Selector) -> list[tuple[str, list[str], list[str]]]:
        """(drift_id, examples, examples without the subject's texts) of drift rows that change."""
        if sel.kind == ALL:
            where, params = "1" + self._cut(sel, "detected_at"), self._params(sel)
            rows = self.client.query(
                f"SELECT DISTINCT drift_id, examples FROM {self._read('drift')} "
                f"WHERE {where} AND notEmpty(examples)",
                parameters=params,
            ).result_rows
            return [(str(i), list(ex), []) for i, ex in rows]
        texts = self._subject_texts(sel)
        if not texts:
            return []
        rows = self.client.query(
            f"SELECT DISTINCT drift_id, app, examples FROM {self._read('drift')} "
            f"WHERE notEmpty(examples) AND has({{apps:Array(String)}}, app)",
            parameters={"apps": sorted(texts)},
        ).result_rows
        changes = []
        for drift_id, app, examples in rows:
            old = [str(e) for e in examples]
            kept = [e for e in old if not _from_texts(e, texts.get(str(app), []))]
            if len(kept) != len(old):
                changes.append((str(drift_id), old, kept))
        return changes

    def _subject_texts(self, sel: Selector) -> dict[str, list[str]]:
        """App -> prompt and response texts of the subject's events (what drift examples quote)."""
        rows = self.client.query(
            f"SELECT app, input_messages, output_text FROM {self._read('events')} "
            f"WHERE {self._events_where(sel)}",
            parameters=self._params(sel),
        ).result_rows
        texts: dict[str, list[str]] = {}
        for app, messages, output in rows:
            found = texts.setdefault(str(app), [])
            found.extend(_message_texts(str(messages)))
            if output:
                found.append(str(output))
        return {app: [t for t in found if t] for app, found in texts.items() if found}


def _message_texts(messages_json: str) -> list[str]:
    try:
        messages = orjson.loads(messages_json or "[]")
    except orjson.JSONDecodeError:
        return []
    out: list[str] = []
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str) and content:
                out.append(content)
        joined = "\n".join(out)
        if len(out) > 1:
            out.append(joined)
    return out


def _from_texts(example: str, texts: list[str]) -> bool:
    """An example quotes one of the texts: the text itself, cut to the drift text limit, or
    behind a ``feature=value: `` prefix (metadata drift)."""
    candidates = [example]
    head, sep, rest = example.partition(": ")
    if sep and "=" in head:
        candidates.append(rest)
    return any(c and text.startswith(c) for text in texts for c in candidates)
