"""Dropping late events of erased subjects.

After ``lightkeeper erase``, events of the erased user, tenant or session may still arrive: they
sit in Kafka (retention), in an agent's spool, or are replayed. The worker and the embedded
runtime drop them for ``privacy.erased_drop_days`` (the ``drop_until`` of each
``erased_subjects`` row) and count them (``dropped`` per selector kind, and the worker metric
``lightkeeper_worker_events_total{outcome="erased"}``).

The subjects are known only by their salted hash (:func:`lightkeeper.store.erasure.subject_hash`),
so the worker hashes the user, tenant and session of each event, and only for kinds that have
erased subjects. The set is reloaded from the store every ``refresh_s``; a failed reload keeps the
previous set (and is logged), so processing never stops because of it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from lightkeeper.store.erasure import SELECTOR_COLUMNS, subject_hash

log = logging.getLogger(__name__)

#: (selector kind, selector hash, before or None) of the subjects to drop now.
Subject = tuple[str, str, datetime | None]
Loader = Callable[[], Iterable[Subject]]


class ErasedSubjects:
    """The erased subjects, matched against event rows (``events`` table columns)."""

    def __init__(
        self,
        salt: bytes,
        loader: Loader,
        *,
        refresh_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.salt = salt
        self.loader = loader
        self.refresh_s = refresh_s
        self.clock = clock
        self.dropped: Counter[str] = Counter()
        self._by_kind: dict[str, dict[str, datetime | None]] = {}
        self._loaded_at: float | None = None

    def refresh(self, *, force: bool = False) -> None:
        now = self.clock()
        if not force and self._loaded_at is not None and now - self._loaded_at < self.refresh_s:
            return
        self._loaded_at = now
        try:
            subjects = list(self.loader())
        except Exception:
            log.warning("reloading the erased subjects failed; keeping the previous set", exc_info=True)
            return
        by_kind: dict[str, dict[str, datetime | None]] = {}
        for kind, digest, before in subjects:
            if kind in SELECTOR_COLUMNS:
                if before is not None and before.tzinfo is None:
                    before = before.replace(tzinfo=UTC)
                by_kind.setdefault(kind, {})[digest] = before
        self._by_kind = by_kind

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_kind.values())

    def erased_kind(self, row: dict[str, Any]) -> str | None:
        """The selector kind that erased this row's subject, else ``None``."""
        for kind, subjects in self._by_kind.items():
            value = row.get(SELECTOR_COLUMNS[kind])
            if not value:
                continue
            digest = subject_hash(self.salt, kind, str(value))
            if digest not in subjects:
                continue
            before = subjects[digest]
            if before is None or _aware(row.get("start_time")) < before:
                return kind
        return None

    def drop_indexes(self, rows: Sequence[dict[str, Any]]) -> set[int]:
        """Indexes of the rows to drop (counted in :attr:`dropped`)."""
        self.refresh()
        if not self._by_kind:
            return set()
        drop: set[int] = set()
        for i, row in enumerate(rows):
            kind = self.erased_kind(row)
            if kind is not None:
                drop.add(i)
                self.dropped[kind] += 1
        return drop


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.max.replace(tzinfo=UTC)  # no start time: only a subject without a cut-off


def store_loader(client: Any, database: str, cluster: str | None = None) -> Loader:
    """Reads the subjects whose ``drop_until`` is still ahead from ``erased_subjects``."""
    view = f"{database}.erased_subjects_latest{'_all' if cluster else ''}"

    def load() -> list[Subject]:
        rows = client.query(
            f"SELECT selector_kind, selector_hash, before FROM {view} WHERE drop_until > now64(3)"
        ).result_rows
        return [(str(k), str(h), b) for k, h, b in rows]

    return load


def for_settings(settings: Any, client: Any) -> ErasedSubjects | None:
    """The filter a worker or runtime uses (``None`` when ``privacy.erased_drop_days`` is 0)."""
    privacy = settings.privacy
    if privacy.erased_drop_days <= 0:
        return None
    if privacy.erasure_salt is None and not str(settings.store_url).startswith("chdb://"):
        log.warning(
            "privacy.erasure_salt is not set: this worker hashes erased subjects with the salt in "
            "its own data directory; set the same salt for `lightkeeper erase` and every worker, or "
            "late events of erased subjects are not recognised"
        )
    return ErasedSubjects(
        privacy.salt(settings.data_dir),
        store_loader(client, settings.store.database, settings.store.cluster),
        refresh_s=privacy.erased_refresh_s,
    )
