"""Bounded on-disk spool of events Kafka could not take (yet).

Layout: ``<dir>/<seq:020d>.seg`` append-only segment files and a ``cursor`` file. A record is
``u32 length | u32 crc32(payload) | payload`` with payload ``u16 key length | key | value``
(big endian). A torn write (crash mid-append) fails the length or CRC check: at open the tail
of the last segment is cut back to the last whole record; a bad record met while reading ends
that segment (counted in ``corrupt_records``).

* **fsync policy** (``fsync``): ``batch`` (default) fsyncs after every appended batch, so an
  acknowledged spool write survives power loss; ``interval`` fsyncs at most every
  ``fsync_interval_ms`` (and at close), losing at most that window on power loss; ``never``
  leaves it to the OS (survives a process crash, not a power loss).
* **Full policy** (``max_bytes`` reached): ``drop_newest`` (default) refuses the incoming
  records; ``drop_oldest`` deletes the oldest whole segments to make room. Either way the
  count is returned/recorded in ``dropped`` and the caller logs and counts it.
* **Write failures** (disk full, I/O error): :meth:`append` keeps the whole records that reached
  the file, cuts a partly written record off again, returns how many it stored and sets
  :attr:`write_error` (cleared by the next successful write or :meth:`probe`). It never raises.
* **Replay**: :meth:`read` returns records in append order from the cursor; :meth:`commit`
  moves the cursor (persisted with write-rename) only after Kafka acknowledged them, and
  deletes fully consumed segments. A crash between ack and commit replays that batch again
  (at-least-once; consumers dedupe on ``event_id``).
* **Copies Kafka delivered after all**: the publisher spools a copy of a batch that waits too
  long for its acknowledgement; when Kafka acknowledges it later, :meth:`mark_delivered`
  records digests of those records (file ``delivered``, no fsync) and :meth:`read` skips them
  (counted in ``skipped``). Cleared when the spool is empty.

All methods are thread-safe (the publisher calls them through ``asyncio.to_thread``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import threading
import time
import zlib
from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal

from lightkeeper.settings import make_private_dir

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")
_KEYLEN = struct.Struct(">H")
Record = tuple[bytes | None, bytes]
Position = tuple[int, int, int]
"""(segment seq, byte offset, records consumed up to there)."""
Opener = Callable[[Path], BinaryIO]
"""Opens a file for unbuffered appending (``open(path, "ab", buffering=0)``); tests inject one
that fails like a full disk."""
_PROBE_BYTES = 64 * 1024


def open_append(path: Path) -> BinaryIO:
    return open(path, "ab", buffering=0)


def digest(key: bytes | None, value: bytes) -> bytes:
    """16-byte identity of a record (for :meth:`Spool.mark_delivered`)."""
    h = hashlib.blake2b(value, digest_size=16)
    h.update(key or b"")
    return h.digest()


class Spool:
    """Append-only segmented spool with a persisted replay cursor."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        segment_bytes: int = 16 * 1024 * 1024,
        full_policy: Literal["drop_newest", "drop_oldest"] = "drop_newest",
        fsync: Literal["batch", "interval", "never"] = "batch",
        fsync_interval_ms: int = 200,
        opener: Opener | None = None,
    ) -> None:
        self.dir = Path(directory)
        make_private_dir(self.dir)  # 0700: events hold prompts
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.full_policy = full_policy
        self.fsync = fsync
        self.fsync_interval = fsync_interval_ms / 1000.0
        self.dropped = 0
        self.corrupt_records = 0
        self.skipped = 0
        """Records :meth:`read` skipped because Kafka had acknowledged them (see mark_delivered)."""
        self.write_error: OSError | None = None
        """The last write failure; None once a write (or :meth:`probe`) succeeded again."""
        self._open = opener or open_append
        self._needs_rotate = False
        self._cursor_unsaved = False
        self._lock = threading.Lock()
        self._last_sync = time.monotonic()
        self._dirty = False
        self._sizes: dict[int, int] = {}
        self._counts: dict[int, int] = {}
        for path in sorted(self.dir.glob("*.seg")):
            seq = int(path.stem)
            size, count = self._scan(path, repair=True)
            self._sizes[seq] = size
            self._counts[seq] = count
        self._active_seq = max(self._sizes, default=0) + 1
        self._active = self._open(self._seg_path(self._active_seq))
        self._sizes[self._active_seq] = 0
        self._counts[self._active_seq] = 0
        self._cursor: tuple[int, int] = self._load_cursor()
        self._consumed = self._records_before(self._cursor)
        self._delivered_path = self.dir / "delivered"
        self._delivered: set[bytes] = set()
        self._delivered_on_disk = self._delivered_path.exists()
        if self._delivered_on_disk:
            raw = self._delivered_path.read_bytes()
            self._delivered = {raw[i : i + 16] for i in range(0, len(raw) - 15, 16)}

    # -- files ---------------------------------------------------------------------------------
    def _seg_path(self, seq: int) -> Path:
        return self.dir / f"{seq:020d}.seg"

    def _scan(self, path: Path, *, repair: bool) -> tuple[int, int]:
        data = path.read_bytes()
        offset = count = 0
        while offset + _HEADER.size <= len(data):
            length, crc = _HEADER.unpack_from(data, offset)
            end = offset + _HEADER.size + length
            if end > len(data) or zlib.crc32(data[offset + _HEADER.size : end]) != crc:
                break
            offset, count = end, count + 1
        if offset != len(data) and repair:
            log.warning(
                "spool segment %s: cutting %d bytes of a torn/corrupt tail", path.name, len(data) - offset
            )
            self.corrupt_records += 1
            with open(path, "r+b") as fh:
                fh.truncate(offset)
        return offset, count

    def _load_cursor(self) -> tuple[int, int]:
        try:
            seq_s, off_s = (self.dir / "cursor").read_text().split()
            cursor = (int(seq_s), int(off_s))
        except (FileNotFoundError, ValueError):
            cursor = (min(self._sizes, default=0), 0)
        if cursor[0] not in self._sizes:
            cursor = (min((s for s in self._sizes if s > cursor[0]), default=cursor[0]), 0)
        return cursor

    def _records_before(self, cursor: tuple[int, int]) -> int:
        seq, off = cursor
        if seq not in self._sizes or off == 0:
            return 0
        data = self._seg_path(seq).read_bytes()[:off]
        n = pos = 0
        while pos + _HEADER.size <= len(data):
            (length, _) = _HEADER.unpack_from(data, pos)
            pos += _HEADER.size + length
            n += 1
        return n

    def _save_cursor(self) -> None:
        """Persist the cursor. On a full disk it stays in memory (consumed segments are still
        deleted, which frees space) and is saved by a later commit; a crash meanwhile replays
        from the last saved cursor (at-least-once, never a loss)."""
        tmp = self.dir / "cursor.tmp"
        try:
            tmp.write_text(f"{self._cursor[0]} {self._cursor[1]}\n")
            os.replace(tmp, self.dir / "cursor")
        except OSError as exc:
            if not self._cursor_unsaved:
                log.warning("spool: could not save the replay cursor (%s); keeping it in memory", exc)
            self._cursor_unsaved = True
            return
        self._cursor_unsaved = False

    # -- state ---------------------------------------------------------------------------------
    @property
    def pending_bytes(self) -> int:
        with self._lock:
            return self._pending_bytes()

    def _pending_bytes(self) -> int:
        seq, off = self._cursor
        return sum(size for s, size in self._sizes.items() if s >= seq) - off

    @property
    def pending_records(self) -> int:
        with self._lock:
            seq = self._cursor[0]
            return sum(c for s, c in self._counts.items() if s >= seq) - self._consumed

    # -- writing -------------------------------------------------------------------------------
    def append(self, records: list[Record]) -> int:
        """Append records in order; returns how many were stored. The rest were refused by the
        full policy (counted in ``dropped``) or did not fit on the disk (``write_error`` set)."""
        buf = bytearray()
        ends: list[int] = []
        with self._lock:
            room = self.max_bytes - self._pending_bytes()
            for i, (key, value) in enumerate(records):
                k = key or b""
                payload = _KEYLEN.pack(len(k)) + k + value
                size = _HEADER.size + len(payload)
                while size > room - len(buf) and self.full_policy == "drop_oldest" and self._drop_oldest():
                    room = self.max_bytes - self._pending_bytes()
                if size > room - len(buf):
                    self.dropped += len(records) - i
                    break
                buf += _HEADER.pack(len(payload), zlib.crc32(payload))
                buf += payload
                ends.append(len(buf))
            if not buf:
                return 0
            if self._needs_rotate:  # a torn record could not be cut off: never append after it
                try:
                    self._rotate()
                except OSError as exc:
                    self._failed(exc)
                    return 0
                self._needs_rotate = False
            kept = self._write(bytes(buf), ends)
            stored = bisect_right(ends, kept)
            self._sizes[self._active_seq] += kept
            self._counts[self._active_seq] += stored
            if kept:
                self._dirty = True
                try:
                    self._maybe_sync()  # also what was kept of a batch that met a full disk
                    if self._sizes[self._active_seq] >= self.segment_bytes and not self._needs_rotate:
                        self._rotate()
                except OSError as exc:
                    self._failed(exc)
                    return stored
            if stored == len(ends):
                self.write_error = None
        return stored

    def _write(self, data: bytes, ends: list[int]) -> int:
        """Write ``data`` to the active segment; returns the bytes kept: all, or on a failure
        (disk full) the whole records that reached the file, the partial one cut off again."""
        view = memoryview(data)
        done = 0
        try:
            while done < len(data):
                n = self._active.write(view[done:])
                if not n:
                    raise OSError(28, "short write to the spool")
                done += n
            return done
        except OSError as exc:
            self._failed(exc)
        kept = ends[bisect_right(ends, done) - 1] if bisect_right(ends, done) else 0
        if kept != done:
            base = self._sizes[self._active_seq]
            try:
                os.ftruncate(self._active.fileno(), base + kept)
            except OSError:  # reads stop before the torn bytes; the next append starts a new segment
                log.warning("spool: could not cut a partly written record; starting a new segment")
                self._needs_rotate = True
        return kept

    def _failed(self, exc: OSError) -> None:
        self.write_error = exc

    def _maybe_sync(self, force: bool = False) -> None:
        if not self._dirty or (self.fsync == "never" and not force):
            return
        now = time.monotonic()
        if force or self.fsync == "batch" or now - self._last_sync >= self.fsync_interval:
            os.fsync(self._active.fileno())
            self._last_sync = now
            self._dirty = False

    def sync(self) -> None:
        """Fsync pending writes now (the publisher calls it on its interval tick and at close)."""
        with self._lock:
            if self._dirty and self.fsync != "never":
                self._maybe_sync(force=True)

    def _rotate(self) -> None:
        self._maybe_sync(force=self.fsync != "never")
        new = self._open(self._seg_path(self._active_seq + 1))
        self._active.close()
        self._active_seq += 1
        self._active = new
        self._sizes[self._active_seq] = 0
        self._counts[self._active_seq] = 0

    def probe(self) -> bool:
        """Whether the spool directory takes writes again (a ``_PROBE_BYTES`` file is written,
        fsynced and removed); clears :attr:`write_error` when it does."""
        path = self.dir / "probe.tmp"
        try:
            with self._open(path) as fh:
                data = memoryview(bytes(_PROBE_BYTES))
                done = 0
                while done < len(data):
                    n = fh.write(data[done:])
                    if not n:
                        raise OSError(28, "short write to the spool")
                    done += n
                os.fsync(fh.fileno())
        except OSError as exc:
            self.write_error = exc
            return False
        finally:
            path.unlink(missing_ok=True)
        self.write_error = None
        return True

    # -- copies Kafka delivered after all --------------------------------------------------------
    def mark_delivered(self, records: list[Record]) -> None:
        """These records (spooled as copies) reached Kafka after all: :meth:`read` skips them."""
        digests = [digest(k, v) for k, v in records]
        with self._lock:
            self._delivered.update(digests)
            try:
                with open(self._delivered_path, "ab") as fh:
                    fh.write(b"".join(digests))
                self._delivered_on_disk = True
            except OSError as exc:  # only the skipping after a restart is lost (duplicates)
                log.warning("spool: could not record delivered copies (%s)", exc)

    @property
    def delivered_pending(self) -> int:
        """Digests of delivered copies not yet skipped by :meth:`read`."""
        return len(self._delivered)

    def _drop_oldest(self) -> bool:
        """Delete the oldest segment that is not the active one; False when none is left."""
        candidates = sorted(s for s in self._sizes if s != self._active_seq)
        if not candidates:
            return False
        seq = candidates[0]
        lost = self._counts[seq] - (self._consumed if seq == self._cursor[0] else 0)
        self.dropped += lost
        self._remove(seq)
        if self._cursor[0] <= seq:
            self._cursor = (min(self._sizes), 0)
            self._consumed = 0
            self._save_cursor()
        return True

    def _remove(self, seq: int) -> None:
        self._seg_path(seq).unlink(missing_ok=True)
        self._sizes.pop(seq, None)
        self._counts.pop(seq, None)

    # -- replay --------------------------------------------------------------------------------
    def read(self, max_records: int) -> tuple[list[Record], Position]:
        """Up to ``max_records`` records from the cursor, oldest first, and the position after them."""
        with self._lock:
            seq, off = self._cursor
            consumed = self._consumed
            out: list[Record] = []
            while len(out) < max_records and seq in self._sizes:
                end = self._sizes[seq]
                if off < end:
                    with open(self._seg_path(seq), "rb") as fh:
                        fh.seek(off)
                        data = fh.read(end - off)
                    pos = 0
                    while len(out) < max_records and pos + _HEADER.size <= len(data):
                        length, crc = _HEADER.unpack_from(data, pos)
                        payload = data[pos + _HEADER.size : pos + _HEADER.size + length]
                        if len(payload) != length or zlib.crc32(payload) != crc:
                            log.error(
                                "spool segment %d: corrupt record at %d, skipping the rest", seq, off + pos
                            )
                            self.corrupt_records += 1
                            pos = len(data)
                            break
                        (klen,) = _KEYLEN.unpack_from(payload, 0)
                        key = payload[2 : 2 + klen] or None
                        value = payload[2 + klen :]
                        if not self._delivered or not self._skip(key, value):
                            out.append((key, value))
                        pos += _HEADER.size + length
                        consumed += 1
                    off += pos
                    if len(out) >= max_records:
                        break
                if seq == self._active_seq:
                    break
                later = [s for s in self._sizes if s > seq]
                if not later:
                    break
                seq, off, consumed = min(later), 0, 0
            return out, (seq, off, consumed)

    def _skip(self, key: bytes | None, value: bytes) -> bool:
        d = digest(key, value)
        if d not in self._delivered:
            return False
        self._delivered.discard(d)
        self.skipped += 1
        return True

    def commit(self, position: Position) -> None:
        """Mark everything before ``position`` as delivered; delete consumed segments."""
        seq, off, consumed = position
        with self._lock:
            for old in [s for s in self._sizes if s < seq]:
                self._remove(old)
            if seq == self._active_seq and off >= self._sizes[seq] and off > 0:
                self._rotate()
                self._remove(seq)
                seq, off, consumed = self._active_seq, 0, 0
            self._cursor = (seq, off)
            self._consumed = consumed
            self._save_cursor()
            if self._delivered_on_disk and self._pending_bytes() == 0:
                self._delivered.clear()
                self._delivered_path.unlink(missing_ok=True)
                self._delivered_on_disk = False

    def close(self) -> None:
        with self._lock:
            try:
                if self._dirty and self.fsync != "never":
                    self._maybe_sync(force=True)
            except OSError as exc:
                log.warning("spool: fsync at close failed (%s)", exc)
            self._active.close()
