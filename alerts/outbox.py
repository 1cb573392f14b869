"""Persistent notification outbox and alert-engine state, in one SQLite file (stdlib).

Why SQLite: a notification must survive a restart, and enqueuing must be idempotent
(``INSERT OR IGNORE`` on the idempotency key), atomic with the engine state that produced it
(one transaction), and cheap to poll for due items. WAL mode with ``synchronous=FULL``.

Tables:

* ``outbox(key PRIMARY KEY, route, payload, status, attempts, next_at, last_error, created_at,
  sent_at)`` — ``key`` is ``<notification key>|<route>``; status ``pending`` → ``sent`` |
  ``failed`` (gave up) | ``silenced`` (recorded, never sent).
* ``state(kind, key, data)`` (primary key ``(kind, key)``) — the engine's active alerts and incidents as JSON.

Delivery is at-least-once per outbox row and acknowledged (``mark_sent``) after the receiver
said yes; a crash between the receiver's yes and the ack re-sends the same idempotency key
(PagerDuty de-duplicates by ``dedup_key``; webhook receivers by ``X-Lightkeeper-Idempotency-Key``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lightkeeper.errors import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY,
    route TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_at);
CREATE TABLE IF NOT EXISTS state (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
"""


_COLS = "key, route, payload, status, attempts, next_at, last_error, created_at, sent_at"


@dataclass(slots=True)
class OutboxItem:
    """One outbox row (times are Unix seconds)."""

    key: str
    route: str
    payload: str
    status: str
    attempts: int
    next_at: float
    last_error: str
    created_at: float
    sent_at: float | None


class Outbox:
    """The outbox file. Thread-safe; one instance per process per file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the alert outbox {self.path}: {exc}") from exc
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit: enqueue notifications together with the state that produced them."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- outbox -----------------------------------------------------------------------------
    def enqueue(
        self,
        key: str,
        route: str,
        payload: str,
        now: float,
        *,
        status: str = "pending",
        conn: sqlite3.Connection | None = None,
    ) -> bool:
        """Add a notification for ``route``; False if that key was already enqueued."""
        db = conn or self._db
        with self._lock:
            cur = db.execute(
                "INSERT OR IGNORE INTO outbox(key, route, payload, status, next_at, created_at) "
                "VALUES (?,?,?,?,?,?)",
                (key, route, payload, status, now, now),
            )
            return cur.rowcount == 1

    def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, route, payload, status, attempts, next_at, last_error, created_at, sent_at "
                "FROM outbox WHERE status='pending' AND next_at<=? ORDER BY created_at, key LIMIT ?",
                (now, limit),
            ).fetchall()
        return [OutboxItem(*r) for r in rows]

    def next_due_at(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(next_at) FROM outbox WHERE status='pending'").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def mark_sent(self, key: str, now: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET status='sent', attempts=attempts+1, sent_at=?, last_error='' WHERE key=?",
                (now, key),
            )

    def mark_retry(self, key: str, next_at: float, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts=attempts+1, next_at=?, last_error=? WHERE key=?",
                (next_at, error[:2000], key),
            )

    def mark_failed(self, key: str, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET status='failed', attempts=attempts+1, last_error=? WHERE key=?",
                (error[:2000], key),
            )

    def get(self, key: str) -> OutboxItem | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key, route, payload, status, attempts, next_at, last_error, created_at, sent_at "
                "FROM outbox WHERE key=?",
                (key,),
            ).fetchone()
        return OutboxItem(*row) if row else None

    def items(self, status: str | None = None) -> list[OutboxItem]:
        sql = f"SELECT {_COLS} FROM outbox"
        args: tuple[str, ...] = ()
        if status:
            sql += " WHERE status=?"
            args = (status,)
        with self._lock:
            return [OutboxItem(*r) for r in self._db.execute(sql + " ORDER BY created_at, key", args)]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())

    def purge_sent(self, older_than: float) -> int:
        """Forget delivered/silenced/failed rows created before ``older_than``."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM outbox WHERE status!='pending' AND created_at<?", (older_than,)
            )
            return cur.rowcount

    # -- engine state -----------------------------------------------------------------------
    def save_state(
        self,
        rows: Iterable[tuple[str, str, str]],
        deleted: Iterable[tuple[str, str]] = (),
        conn: sqlite3.Connection | None = None,
    ) -> None:
        """Upsert ``(kind, key, json)`` rows and delete ``(kind, key)`` pairs."""
        db = conn or self._db
        with self._lock:
            db.executemany("INSERT OR REPLACE INTO state(kind, key, data) VALUES (?,?,?)", list(rows))
            db.executemany("DELETE FROM state WHERE kind=? AND key=?", list(deleted))

    def load_state(self, kind: str) -> list[tuple[str, str]]:
        with self._lock:
            return self._db.execute(
                "SELECT key, data FROM state WHERE kind=? ORDER BY key", (kind,)
            ).fetchall()
