"""The audit of reads: one ``audit_queries`` row per query people run (migration 0005).

Written by the SQL endpoint of ``lightkeeper up`` for every request that carries a query
(refused and failed ones included) and by ``lightkeeper sql`` for every run. What is kept:
when, who (principal, a hash prefix of the token, tenant scope), the query with string literal
contents replaced by ``'?'`` and the SHA-256 of that redacted text, the names (never the
values) of its parameters, the outcome, rows and bytes returned and the duration.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lightkeeper.store.client import check_identifier

AUDIT_TABLE = "audit_queries"
MAX_TEXT_CHARS = 16_384
OUTCOMES = frozenset({"ok", "refused", "failed", "timeout", "busy", "unauthorized", "unavailable"})
COLUMNS = (
    "query_id",
    "queried_at",
    "source",
    "principal",
    "token_id",
    "tenant",
    "database",
    "query_hash",
    "query_text",
    "parameter_names",
    "format",
    "outcome",
    "refused",
    "error",
    "rows_returned",
    "bytes_returned",
    "truncated",
    "duration_ms",
)

# A string literal ('...' with \-escapes and doubled quotes, possibly unterminated) or a
# $tag$...$tag$ heredoc.
_LITERAL = re.compile(r"'(?:[^'\\]|\\.|'')*(?:'|$)|\$([A-Za-z0-9_]*)\$.*?(?:\$\1\$|$)", re.DOTALL)


def redact_query(sql: str) -> str:
    """``sql`` with the contents of every string literal replaced by ``?`` (cut at 16 KiB)."""
    return _LITERAL.sub("'?'", sql)[:MAX_TEXT_CHARS]


def query_hash(sql: str) -> str:
    """SHA-256 (hex) of the redacted query with whitespace runs folded to one space."""
    normalized = " ".join(redact_query(sql).split())
    return hashlib.sha256(normalized.encode()).hexdigest()


def token_id(token: str) -> str:
    """What identifies a bearer token in the audit: a hash prefix, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass
class QueryAudit:
    """One audited query."""

    source: str
    principal: str
    database: str
    query: str
    outcome: str
    token_id: str = ""
    tenant: str = ""
    parameter_names: list[str] = field(default_factory=list)
    fmt: str = ""
    error: str = ""
    rows: int = 0
    bytes: int = 0
    truncated: bool = False
    duration_ms: float = 0.0
    queried_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    query_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def row(self) -> list[Any]:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown audit outcome {self.outcome!r}")
        return [
            self.query_id,
            self.queried_at,
            self.source,
            self.principal,
            self.token_id,
            self.tenant,
            self.database,
            query_hash(self.query),
            redact_query(self.query),
            sorted(self.parameter_names),
            self.fmt,
            self.outcome,
            1 if self.outcome in ("refused", "unauthorized") else 0,
            redact_query(self.error)[:4096],
            self.rows,
            self.bytes,
            1 if self.truncated else 0,
            round(self.duration_ms, 3),
        ]


def record(client: Any, database: str, audits: list[QueryAudit]) -> None:
    """Insert ``audits`` into ``<database>.audit_queries`` (raises what the insert raises)."""
    if not audits:
        return
    check_identifier(database)
    client.insert(f"{database}.{AUDIT_TABLE}", [a.row() for a in audits], column_names=list(COLUMNS))


def outcome_of(error: str) -> str:
    """``timeout`` for the engine's time limit, else ``failed``."""
    return "timeout" if "TIMEOUT_EXCEEDED" in error else "failed"
