"""Silences: label matchers with an expiry, persisted in a small JSON file.

A silence mutes notifications of every incident whose labels (rule labels, group labels,
``alertname`` and ``severity``) satisfy all its matchers while ``starts_at <= now < ends_at``.
Matchers are ``name=value``, ``name!=value``, ``name=~regex`` (full match) or ``name!~regex``.
The file is rewritten atomically (temp file + rename), so the CLI and a running engine can
share it; the engine re-reads it when its modification time changes.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lightkeeper.errors import ConfigError
from lightkeeper.ids import uuid7_str
from lightkeeper.schemas.events import utcnow

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.:-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(slots=True)
class Matcher:
    name: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """``app=chatbot``, ``severity!=info``, ``alertname=~tox.*``."""
        m = _MATCHER.match(text)
        if not m:
            raise ConfigError(
                f"invalid matcher {text!r}: expected name=value, name!=value, name=~re or name!~re"
            )
        matcher = cls(m.group(1), m.group(2), m.group(3).strip("\"'"))
        if matcher.op in ("=~", "!~"):
            try:
                re.compile(matcher.value)
            except re.error as exc:
                raise ConfigError(f"invalid matcher {text!r}: bad regular expression: {exc}") from None
        return matcher

    def matches(self, labels: dict[str, str]) -> bool:
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        hit = re.fullmatch(self.value, got) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"


@dataclass(slots=True)
class Silence:
    matchers: list[Matcher]
    ends_at: datetime
    starts_at: datetime = field(default_factory=utcnow)
    id: str = field(default_factory=uuid7_str)
    created_by: str = ""
    comment: str = ""

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: dict[str, str], now: datetime) -> bool:
        return self.active(now) and all(m.matches(labels) for m in self.matchers)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["starts_at"] = self.starts_at.isoformat()
        d["ends_at"] = self.ends_at.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Silence:
        return cls(
            matchers=[Matcher(**m) for m in d["matchers"]],
            ends_at=datetime.fromisoformat(d["ends_at"]),
            starts_at=datetime.fromisoformat(d["starts_at"]),
            id=d["id"],
            created_by=d.get("created_by", ""),
            comment=d.get("comment", ""),
        )


class SilenceStore:
    """The silences file. Cheap to poll: :meth:`match` reloads only when the file changed."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._mtime: float | None = None
        self._silences: list[Silence] = []

    def _reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            self._silences, self._mtime = [], None
            return
        if mtime == self._mtime:
            return
        try:
            data = json.loads(self.path.read_text() or "[]")
            self._silences = [Silence.from_dict(d) for d in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"silences file {self.path} is corrupt: {exc}") from None
        self._mtime = mtime

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".silences-")
        with os.fdopen(fd, "w") as fh:
            json.dump([s.to_dict() for s in self._silences], fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._mtime = None

    def all(self) -> list[Silence]:
        self._reload()
        return list(self._silences)

    def add(
        self,
        matchers: list[str] | list[Matcher],
        duration: timedelta,
        *,
        created_by: str = "",
        comment: str = "",
        now: datetime | None = None,
    ) -> Silence:
        parsed = [m if isinstance(m, Matcher) else Matcher.parse(m) for m in matchers]
        if not parsed:
            raise ConfigError("a silence needs at least one matcher")
        if duration <= timedelta(0):
            raise ConfigError("a silence needs a positive duration")
        start = now or utcnow()
        silence = Silence(parsed, start + duration, start, created_by=created_by, comment=comment)
        self._reload()
        self._silences.append(silence)
        self._save()
        return silence

    def remove(self, silence_id: str) -> bool:
        """Expire a silence now (removes it). Returns False when no silence has that id."""
        self._reload()
        kept = [s for s in self._silences if s.id != silence_id]
        if len(kept) == len(self._silences):
            return False
        self._silences = kept
        self._save()
        return True

    def prune(self, now: datetime) -> int:
        """Drop expired silences; returns how many."""
        self._reload()
        kept = [s for s in self._silences if s.ends_at > now]
        dropped = len(self._silences) - len(kept)
        if dropped:
            self._silences = kept
            self._save()
        return dropped

    def match(self, labels: dict[str, str], now: datetime) -> Silence | None:
        self._reload()
        for s in self._silences:
            if s.matches(labels, now):
                return s
        return None
