"""The producer's spool file log on its own: segments, reading back, a refusing disk, a torn frame."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from aico.logging.spool import Spool
from aico.logging.spool_cipher import SpoolCipher

CIPHER = SpoolCipher(bytes(range(32)))


def items(n: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [(b"logs.t%d" % (i % 3), b"payload-%d" % i) for i in range(start, start + n)]


def spool(path: Path, segment_bytes: int = 200) -> Spool:
    return Spool(path, cipher=CIPHER, segment_bytes=segment_bytes, max_bytes=1 << 20)


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
    """Records get consecutive seqs, fill bounded segments and read back in order, by range or by seq."""
    s = spool(tmp_path)
    written = s.append(items(30))
    assert [w[0] for w in written] == list(range(1, 31))
    assert len(s.segments) > 2 and all(g.size <= 200 + 80 for g in s.segments[:-1])
    assert s.read_from(1, 100) == written
    assert s.read_from(17, 5) == written[16:21]
    assert s.read_seqs([3, 4, 29]) == [written[2], written[3], written[28]]
    s.advance(25)
    assert s.segments[0].first_seq <= 25 and s.read_seqs([1, 26]) == [written[25]]
    s.close()


def test_a_write_the_disk_refuses_is_cut_off_and_kept_in_memory_until_the_disk_is_back(tmp_path: Path) -> None:
    """A refused write leaves no torn frame, goes on in memory, and the disk is used again once it takes writes."""
    s = spool(tmp_path, segment_bytes=1 << 20)
    first = s.append(items(3))
    assert s._out is not None
    s._out = RefusingFile(s._out, room=25)  # type: ignore[assignment]  # part of the next frame fits
    refused = s.append(items(4, start=3))
    assert [w[0] for w in refused] == [4, 5, 6, 7] and s.next_seq == 8
    assert s.disk_error is not None and s.disk_error.errno == errno.ENOSPC and s.disk_errors == 1
    assert s.segments[-1].memory is not None and s.memory_size > 0
    assert s.segments[0].path.stat().st_size == s.segments[0].size  # the torn part was cut off
    more = s.append(items(2, start=7))  # the disk is not tried again before its backoff
    assert s.segments[-1].memory is not None and [w[0] for w in more] == [8, 9]
    s._disk_retry_at = 0.0  # the backoff is over, and the disk has room again
    later = s.append(items(2, start=9))
    assert s.segments[-1].memory is None and s.disk_error is None and s.segments[-1].path.exists()
    assert s.read_from(1, 100) == first + refused + more + later
    assert s.read_seqs([2, 5, 10]) == [first[1], refused[1], later[0]]
    s.close()  # what was held in memory is written down, so the next start replays it
    again = spool(tmp_path, segment_bytes=1 << 20)
    assert again.read_from(1, 100) == first + refused + more + later
    again.close()


def test_memory_held_records_are_bounded_oldest_dropped_first(tmp_path: Path) -> None:
    """While the disk refuses, at most memory_bytes are held; enforce_bound drops the oldest and says how many."""
    s = Spool(tmp_path, cipher=CIPHER, segment_bytes=100, max_bytes=1 << 20, memory_bytes=300)
    s._roll(1)
    s._out = RefusingFile(s._out, room=0)  # type: ignore[assignment]
    written = s.append(items(40))
    assert [w[0] for w in written] == list(range(1, 41))
    lost = s.enforce_bound()
    assert lost > 0 and s.memory_size <= 300 and s.watermark == lost + 1
    assert s.read_from(s.watermark, 100) == written[lost:]
    s.close()


def test_a_folder_that_cannot_be_written_gives_a_memory_only_spool(tmp_path: Path) -> None:
    """open_spool under a read-only folder (or a file in the way) falls back to memory, saying why."""
    from aico.logging.spool import open_spool

    blocker = tmp_path / "home"
    blocker.write_text("not a folder")
    s = open_spool(blocker, "app", cipher=CIPHER, segment_bytes=200, max_bytes=1 << 20, memory_bytes=1 << 16)
    assert s.memory_only and isinstance(s.disk_error, OSError)
    written = s.append(items(5))
    assert s.read_from(1, 10) == written and all(g.memory is not None for g in s.segments)
    s.advance(6)
    s.close()
    assert blocker.read_text() == "not a folder"


def test_a_torn_last_frame_is_cut_off_on_the_next_start(tmp_path: Path) -> None:
    """A frame cut short by a crash is cut off on the next open; the records before it and the seqs go on."""
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


def test_a_damaged_state_file_or_a_stray_segment_name_never_stops_the_spool(tmp_path: Path) -> None:
    """A state.json with values of the wrong kind, or a file named like a segment that is not one, is set
    aside: the spool opens on disk (it raised ValueError into ``aico.logging.install()``)."""
    from aico.logging.spool import open_spool

    for state in ('{"producer_id": "p1", "watermark": "x"}', '{"producer_id": "p1", "watermark": 1e30}',
                  '{"producer_id": ["x"], "watermark": -4}', '[1, 2]', '{"watermark": true}'):
        folder = tmp_path / "spool" / "app"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "state.json").write_text(state)
        (folder / "seg-notanumber.log").write_bytes(b"junk")
        (folder / "seg-notanumber.enc").write_bytes(b"junk")
        s = open_spool(tmp_path / "spool", "app", cipher=CIPHER, segment_bytes=200, max_bytes=1 << 20)
        assert not s.memory_only, state
        assert s.watermark >= 1 and isinstance(s.producer_id, str) and s.producer_id.isalnum(), state
        assert s.producer_id == "p1" or "p1" not in state, state
        assert [seq for seq, _, _ in s.append(items(2))] == [s.next_seq - 2, s.next_seq - 1]
        s.close()
