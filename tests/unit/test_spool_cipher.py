"""The spool on disk is sealed: no record text in its files, damaged frames skipped and counted, old spools sealed."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from aico.logging.spool import Spool
from aico.logging.spool_cipher import HEADER, SpoolCipher, key_bytes

CIPHER = SpoolCipher(bytes(range(32)))
MARKER = b"MARKER-4111111111111111"


def items(n: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [(b"logs.t", MARKER + b"-%d" % i) for i in range(start, start + n)]


def spool(path: Path, cipher: SpoolCipher = CIPHER) -> Spool:
    return Spool(path, cipher=cipher, segment_bytes=1 << 20, max_bytes=1 << 22)


def reopen(s: Spool, cipher: SpoolCipher = CIPHER) -> Spool:
    s._close_out()
    assert s._lock is not None
    s._lock.close()
    return spool(s.dir, cipher)


def test_no_record_text_reaches_the_disk(tmp_path: Path) -> None:
    """Topics and payloads are sealed: no file of the spool holds a payload's bytes, and it reads back."""
    s = spool(tmp_path)
    written = s.append(items(50))
    s._close_out()
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        assert MARKER not in data and b"logs.t" not in data, path
    again = reopen(s)
    assert again.read_from(1, 100) == written
    again.close()


def test_a_tampered_frame_is_counted_and_skipped_and_the_frames_after_it_still_read(tmp_path: Path) -> None:
    """A flipped byte in a body fails authentication; a broken header is passed by resync; the rest reads."""
    s = spool(tmp_path)
    written = [w for i in range(10) for w in s.append(items(1, start=i))]  # a frame each
    path = s.segments[0].path
    s._close_out()
    data = bytearray(path.read_bytes())
    frame = len(data) // 10
    data[2 * frame + HEADER.size + 20] ^= 0xFF  # the body of seq 3's frame
    data[5 * frame + 6] ^= 0xFF  # the header of seq 6 (its length)
    path.write_bytes(bytes(data))
    again = reopen(s)
    got = again.read_from(1, 100)
    assert got == [w for w in written if w[0] not in (3, 6)]
    assert again.bad_frames == 2 and again.next_seq == 11
    assert again.read_seqs([2, 3, 4, 7]) == [written[1], written[3], written[6]]
    again.close()


def test_a_frame_moved_to_another_place_fails_to_open(tmp_path: Path) -> None:
    """The header (with its seq) is bound to the body: a frame copied under another seq is refused."""
    s = spool(tmp_path)
    s.append(items(1))
    s.append(items(1, start=1))
    path = s.segments[0].path
    s._close_out()
    data = bytearray(path.read_bytes())
    half = len(data) // 2
    head = bytearray(data[half : half + 16])
    struct.pack_into("<Q", head, 8, 1)  # seq 2's frame claims to be seq 1 (its CRC made to match)

    data[half : half + 20] = bytes(head) + zlib.crc32(bytes(head)).to_bytes(4, "little")
    path.write_bytes(bytes(data[half:]))
    again = reopen(s)
    assert again.read_from(1, 10) == [] and again.bad_frames == 1
    again.close()


def test_a_spool_under_another_key_reads_nothing_and_counts_it(tmp_path: Path) -> None:
    """Frames sealed under a lost key are counted, never returned as records, and their seqs are not given again."""
    s = spool(tmp_path)
    s.append(items(4))
    s.append(items(3))
    again = reopen(s, SpoolCipher(bytes(32)))
    assert again.read_from(1, 10) == [] and again.bad_frames == 2 and again.next_seq == 8
    again.close()


def test_an_older_plain_spool_is_sealed_and_its_plain_segment_removed(tmp_path: Path) -> None:
    """A segment in the older clear format is read once, sealed into .enc, and the clear file is gone."""
    plain = struct.Struct("<IQH")
    frames = b"".join(plain.pack(10 + len(t) + len(p), seq, len(t)) + t + p
                      for seq, (t, p) in enumerate(items(3), start=4))
    (tmp_path / "seg-4.log").write_bytes(frames)
    (tmp_path / "state.json").write_text('{"producer_id": "abc", "watermark": 4}')
    s = spool(tmp_path)
    assert not list(tmp_path.glob("seg-*.log")) and list(tmp_path.glob("seg-4.enc"))
    assert [w[0] for w in s.read_from(4, 10)] == [4, 5, 6] and s.next_seq == 7
    for path in tmp_path.iterdir():
        assert MARKER not in path.read_bytes()
    s.close()


def test_reading_in_small_steps_goes_through_frames_of_many_records(tmp_path: Path) -> None:
    """read_from with a limit smaller than a frame picks up where it stopped, inside the frame."""
    s = spool(tmp_path)
    written = s.append(items(7)) + s.append(items(5, start=7))
    got, seq = [], 1
    while chunk := s.read_from(seq, 3):
        got += chunk
        seq = chunk[-1][0] + 1
    assert got == written
    s.close()


def test_a_key_set_by_hand_gives_256_bits() -> None:
    """A stored hex key is used as is; any other text is hashed to 32 bytes."""
    assert key_bytes("ab" * 32) == b"\xab" * 32
    assert len(key_bytes("correct horse")) == 32
