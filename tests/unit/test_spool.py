"""The producer's spool file log on its own: segments, reading back, a refusing disk, a torn frame."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest

from aico.logging.spool import Spool, SpoolWriteError


def items(n: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [(b"logs.t%d" % (i % 3), b"payload-%d" % i) for i in range(start, start + n)]


def spool(path: Path, segment_bytes: int = 200) -> Spool:
    return Spool(path, segment_bytes=segment_bytes, max_bytes=1 << 20)


class RefusingFile:
    """A segment file whose disk takes ``room`` more bytes, then says it is full."""

    def __init__(self, real: Any, room: int) -> None:
        self.real, self.room = real, room

    def write(self, data: memoryview) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = self.real.write(data[: self.room])
        self.room -= n
        return int(n)

    def truncate(self, size: int) -> int:
        return int(self.real.truncate(size))

    def close(self) -> None:
        self.real.close()


def test_records_roll_over_segments_and_read_back_in_order(tmp_path: Path) -> None:
    s = spool(tmp_path)
    written = s.append(items(30))
    assert [w[0] for w in written] == list(range(1, 31))
    assert len(s.segments) > 2 and all(g.size <= 200 + 40 for g in s.segments[:-1])
    assert s.read_from(1, 100) == written
    assert s.read_from(17, 5) == written[16:21]
    assert s.read_seqs([3, 4, 29]) == [written[2], written[3], written[28]]
    s.advance(25)
    assert s.segments[0].first_seq <= 25 and s.read_seqs([1, 26]) == [written[25]]
    s.close()


def test_a_write_the_disk_refuses_is_cut_off_and_says_what_went_in(tmp_path: Path) -> None:
    s = spool(tmp_path, segment_bytes=1 << 20)
    first = s.append(items(3))
    assert s._out is not None
    s._out = RefusingFile(s._out, room=25)  # type: ignore[assignment]  # part of the next frame fits
    with pytest.raises(SpoolWriteError) as refused:
        s.append(items(4, start=3))
    assert refused.value.written == [] and refused.value.cause.errno == errno.ENOSPC
    assert s.next_seq == 4  # the refused records' seqs are given again: no gap
    s._out = s._out.real  # type: ignore[attr-defined]  # room again
    later = s.append(items(2, start=7))
    assert [w[0] for w in later] == [4, 5]
    assert s.read_from(1, 100) == first + later  # no torn frame in between
    s.close()


def test_a_batch_over_two_segments_keeps_the_first_when_the_second_is_refused(tmp_path: Path) -> None:
    s = spool(tmp_path, segment_bytes=100)
    batch = items(12)
    original_roll = s._roll

    def roll_onto_a_full_disk(first_seq: int) -> None:
        original_roll(first_seq)
        if first_seq > 1:
            s._out = RefusingFile(s._out, room=0)  # type: ignore[assignment]

    s._roll = roll_onto_a_full_disk  # type: ignore[method-assign]
    with pytest.raises(SpoolWriteError) as refused:
        s.append(batch)
    kept = refused.value.written
    assert kept and [w[0] for w in kept] == list(range(1, len(kept) + 1)) and len(kept) < 12
    assert s.next_seq == len(kept) + 1
    assert s.read_from(1, 100) == kept
    s.close()


def test_a_torn_last_frame_is_cut_off_on_the_next_start(tmp_path: Path) -> None:
    s = spool(tmp_path, segment_bytes=1 << 20)
    written = s.append(items(5))
    path = s.segments[-1].path
    s._close_out()
    s._lock.close()
    with path.open("ab") as fh:
        fh.write(b"\x40\x00\x00\x00\x06")  # a frame header cut short by a crash
    again = spool(tmp_path, segment_bytes=1 << 20)
    assert again.next_seq == 6 and again.read_from(1, 100) == written
    assert [w[0] for w in again.append(items(1, start=5))] == [6]
    again.close()
