"""The on-disk spool: order, persistence across reopen, torn writes, full policies, fsync modes."""

from __future__ import annotations

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
