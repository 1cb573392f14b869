"""The on-disk spool: order, persistence across reopen, torn writes, full policies, fsync modes."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import pytest

from lightkeeper.agent.spool import Spool


def _recs(start: int, n: int) -> list[tuple[bytes | None, bytes]]:
    return [(f"k{i}".encode() if i % 2 else None, f"value-{i}".encode() * 3) for i in range(start, start + n)]


def _drain(spool: Spool, batch: int = 7) -> list[tuple[bytes | None, bytes]]:
    out = []
    while True:
        recs, pos = spool.read(batch)
        if not recs:
            spool.commit(pos)
            return out
        out.extend(recs)
        spool.commit(pos)


@pytest.mark.parametrize("fsync", ["batch", "interval", "never"])
def test_append_read_commit_in_order_across_segments(tmp_path: Path, fsync):
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=300, fsync=fsync)
    assert spool.append(_recs(0, 20)) == 20
    assert spool.append(_recs(20, 20)) == 20
    assert spool.pending_records == 40
    assert len(list(tmp_path.glob("*.seg"))) > 2
    assert _drain(spool) == _recs(0, 40)
    assert spool.pending_records == 0 and spool.pending_bytes == 0
    assert len(list(tmp_path.glob("*.seg"))) == 1  # consumed segments deleted
    spool.close()


def test_uncommitted_records_survive_reopen_and_committed_do_not(tmp_path: Path):
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=500)
    spool.append(_recs(0, 30))
    recs, pos = spool.read(10)
    spool.commit(pos)
    recs2, _ = spool.read(5)  # read but not committed (not acked): must come back
    spool.close()
    again = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=500)
    assert again.pending_records == 20
    assert _drain(again) == _recs(10, 20)
    assert recs == _recs(0, 10) and recs2 == _recs(10, 5)
    again.close()


def test_torn_write_is_cut_at_open(tmp_path: Path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(_recs(0, 5))
    spool.close()
    seg = sorted(tmp_path.glob("*.seg"))[-1]
    with open(seg, "ab") as fh:  # half a record, as after a crash mid-write
        fh.write(b"\x00\x00\x01\x00\xde\xad")
    again = Spool(tmp_path, max_bytes=1 << 20)
    assert again.corrupt_records == 1
    assert _drain(again) == _recs(0, 5)
    again.close()


def test_corrupt_record_in_the_middle_stops_that_segment(tmp_path: Path):
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=10_000)
    spool.append(_recs(0, 5))
    spool.close()
    seg = sorted(tmp_path.glob("*.seg"))[0]
    data = bytearray(seg.read_bytes())
    data[-3] ^= 0xFF  # flip a byte of the last record's payload
    seg.write_bytes(bytes(data))
    again = Spool(tmp_path, max_bytes=1 << 20)
    assert _drain(again) == _recs(0, 4)
    assert again.corrupt_records == 1
    again.close()


def test_full_drop_newest(tmp_path: Path):
    spool = Spool(tmp_path, max_bytes=400, segment_bytes=200, full_policy="drop_newest")
    stored = spool.append(_recs(0, 50))
    assert 0 < stored < 50 and spool.dropped == 50 - stored
    assert spool.pending_bytes <= 400
    assert _drain(spool) == _recs(0, stored)
    spool.close()


def test_full_drop_oldest_keeps_newest(tmp_path: Path):
    spool = Spool(tmp_path, max_bytes=600, segment_bytes=150, full_policy="drop_oldest")
    total = 0
    for i in range(10):
        total += spool.append(_recs(i * 5, 5))
    assert spool.dropped > 0
    left = _drain(spool)
    assert left[-1] == _recs(49, 1)[0]
    assert len(left) + spool.dropped == 50
    spool.close()


class _DiskBudget:
    """A disk with ``free`` bytes left: writes beyond it write what fits, then fail with ENOSPC
    (what a full file system does)."""

    def __init__(self, free: int) -> None:
        self.free = free

    def open(self, path: Path) -> io.FileIO:
        budget = self

        class _File(io.FileIO):
            def write(self, data) -> int:  # type: ignore[override]
                view = memoryview(data)
                if budget.free <= 0:
                    raise OSError(errno.ENOSPC, "No space left on device")
                n = super().write(view[: budget.free])
                budget.free -= n
                return n

        return _File(path, "ab")


def test_disk_full_keeps_the_whole_records_that_fit_and_cuts_the_partial_one(tmp_path: Path):
    disk = _DiskBudget(free=10_000)
    spool = Spool(tmp_path, max_bytes=1 << 20, opener=disk.open)
    records = _recs(0, 1000)  # ~30 bytes each: far more than fits
    stored = spool.append(records)
    assert 0 < stored < len(records)
    assert spool.write_error is not None and spool.write_error.errno == errno.ENOSPC
    assert spool.pending_records == stored
    assert spool.append(_recs(1000, 5)) == 0  # still full: nothing stored, nothing raised
    disk.free = 1 << 20  # space freed
    assert spool.probe() and spool.write_error is None
    assert spool.append(_recs(2000, 3)) == 3
    spool.close()
    again = Spool(tmp_path, max_bytes=1 << 20)
    assert again.corrupt_records == 0  # the partly written record was cut at once, not at reopen
    assert _drain(again) == records[:stored] + _recs(2000, 3)
    again.close()


def test_full_disk_probe_fails_until_space_is_freed(tmp_path: Path):
    disk = _DiskBudget(free=100)
    spool = Spool(tmp_path, max_bytes=1 << 20, opener=disk.open)
    assert not spool.probe() and spool.write_error is not None
    assert not list(tmp_path.glob("probe*"))
    spool.close()


def test_records_marked_delivered_are_skipped_on_replay(tmp_path: Path):
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(_recs(0, 10))
    spool.mark_delivered(_recs(3, 4))  # copies that Kafka acknowledged after all
    spool.close()
    again = Spool(tmp_path, max_bytes=1 << 20)  # survives a restart
    assert _drain(again) == _recs(0, 3) + _recs(7, 3)
    assert again.skipped == 4 and again.delivered_pending == 0
    assert not (tmp_path / "delivered").exists()  # cleared once the spool is empty
    again.close()


def test_torn_record_that_cannot_be_cut_is_never_appended_after(tmp_path: Path, monkeypatch):
    disk = _DiskBudget(free=1000)
    spool = Spool(tmp_path, max_bytes=1 << 20, opener=disk.open)

    def refuse(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr("lightkeeper.agent.spool.os.ftruncate", refuse)
    records = _recs(0, 100)
    stored = spool.append(records)
    assert 0 < stored < 100
    monkeypatch.undo()
    disk.free = 1 << 20
    assert spool.append(_recs(500, 4)) == 4  # into a new segment, not after the torn bytes
    assert _drain(spool) == records[:stored] + _recs(500, 4)
    spool.close()


def test_replay_frees_a_full_disk_even_when_the_cursor_cannot_be_saved(tmp_path: Path, monkeypatch):
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=300)
    spool.append(_recs(0, 30))
    segments = len(list(tmp_path.glob("*.seg")))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    assert _drain(spool) == _recs(0, 30)  # commits do not fail
    assert len(list(tmp_path.glob("*.seg"))) < segments  # consumed segments deleted: space freed
    monkeypatch.undo()
    spool.close()
    again = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=300)
    assert again.pending_records == 0  # the stale saved cursor points at deleted segments
    again.close()
