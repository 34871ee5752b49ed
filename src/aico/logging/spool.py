"""The producer's spool: an append-only, segmented file log of every record it produced.

Each record is written here before it is first sent, and the file is handed to the OS
before the send, so a record that left the process is on disk even if the process is
killed the next instant. Acknowledged records are forgotten by moving a watermark (all
``seq < watermark`` are stored) and deleting segments wholly below it. On the next start,
everything at or above the watermark is sent again; the store drops what it already has.

Layout of ``<spool dir>/``::

    lock                 flock: one live producer per spool
    state.json           {"producer_id": ..., "watermark": ...}
    seg-<first seq>.log  frames: [u32 length][u64 seq][u16 topic length][topic][payload]

Nothing here logs: this is logging infrastructure.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import uuid
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from io import FileIO
from itertools import accumulate
from pathlib import Path

from aico.schema.timestamps import now_utc

_HEADER = struct.Struct("<IQH")  # frame length (after this field), seq, topic length
READ_CHUNK = 1 << 18  # 256 KiB at a time when catching up from disk


@dataclass
class Segment:
    first_seq: int
    path: Path
    size: int
    last_seq: int


class SpoolLocked(Exception):
    """Another live process owns this spool."""


class SpoolWriteError(Exception):
    """The disk refused a write; ``written`` is what went in before it (seq, topic, payload)."""

    def __init__(self, written: list[tuple[int, bytes, bytes]], cause: OSError) -> None:
        super().__init__(str(cause))
        self.written = written
        self.cause = cause


class Spool:
    def __init__(self, directory: Path, *, segment_bytes: int, max_bytes: int) -> None:
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = open(directory / "lock", "a+")  # noqa: SIM115 - held for the spool's lifetime
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SpoolLocked(str(directory)) from None
        state = self._read_state()
        self.producer_id: str = str(state.get("producer_id") or uuid.uuid4().hex)
        self.watermark: int = int(str(state.get("watermark", 1)))
        self.segments: list[Segment] = self._scan()
        last = self.segments[-1].last_seq if self.segments else 0
        self.next_seq = max(self.watermark, last + 1)
        self._saved_watermark = -1
        self._out: FileIO | None = None
        self._cursor: tuple[int, int, int] | None = None  # (segment first seq, offset, next seq)
        self.save_state()

    # -- state -------------------------------------------------------------------------
    def _read_state(self) -> dict[str, object]:
        try:
            data = json.loads((self.dir / "state.json").read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def save_state(self) -> None:
        if self._saved_watermark == self.watermark:
            return
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps({"producer_id": self.producer_id, "watermark": self.watermark}))
        os.replace(tmp, self.dir / "state.json")
        self._saved_watermark = self.watermark

    def _scan(self) -> list[Segment]:
        segments = []
        for path in sorted(self.dir.glob("seg-*.log"), key=lambda p: int(p.stem[4:])):
            first = int(path.stem[4:])
            last = first - 1
            good = 0
            for seq, _, _, end in _frames(path):
                last, good = seq, end
            size = path.stat().st_size
            if good < size:  # a torn last frame from a crash: cut it off
                with path.open("r+b") as fh:
                    fh.truncate(good)
                size = good
            segments.append(Segment(first, path, size, last))
        return segments

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)

    # -- writing -----------------------------------------------------------------------
    def append(self, items: list[tuple[bytes, bytes]]) -> list[tuple[int, bytes, bytes]]:
        """Give each (topic, payload) the next seq and write it; returns (seq, topic, payload).

        Raises ``SpoolWriteError`` (with what was written before it) if the disk refuses.
        """
        first = self.next_seq
        pack = _HEADER.pack
        frames = [pack(10 + len(topic) + len(payload), first + i, len(topic)) + topic + payload
                  for i, (topic, payload) in enumerate(items)]
        done = 0
        try:
            while done < len(frames):
                if not self.segments or self.segments[-1].size >= self.segment_bytes:
                    self._roll(first + done)
                seg = self.segments[-1]
                # This segment takes frames up to and with the one that brings it to its size.
                sizes = list(accumulate(map(len, frames[done:])))
                take = min(bisect_left(sizes, self.segment_bytes - seg.size) + 1, len(sizes))
                self._write(seg, b"".join(frames[done : done + take]))
                seg.size += sizes[take - 1]
                done += take
                seg.last_seq = first + done - 1
        except OSError as exc:
            raise SpoolWriteError([(first + i, t, p) for i, (t, p) in enumerate(items[:done])], exc) from exc
        finally:
            self.next_seq = first + done  # refused records' seqs are given again: no gap
        return [(first + i, topic, payload) for i, (topic, payload) in enumerate(items)]

    def _write(self, seg: Segment, data: bytes) -> None:
        """All of ``data`` at the end of ``seg``, handed to the OS in one call (it survives a
        SIGKILL of this process), or none of it: a partial write is cut off again."""
        if self._out is None:
            self._out = seg.path.open("ab", buffering=0)
        view = memoryview(data)
        try:
            while view:
                written = self._out.write(view)
                view = view[written or 0 :]
        except OSError:
            try:
                self._out.truncate(seg.size)
            except OSError:
                self._close_out()  # the next start cuts the torn frame off (see _scan)
            raise

    def _close_out(self) -> None:
        if self._out is not None:
            try:
                self._out.close()
            finally:
                self._out = None

    def _roll(self, first_seq: int) -> None:
        self._close_out()
        path = self.dir / f"seg-{first_seq}.log"
        self._out = path.open("ab", buffering=0)
        self.segments.append(Segment(first_seq, path, 0, first_seq - 1))

    # -- reading -----------------------------------------------------------------------
    def read_from(self, seq: int, limit: int) -> list[tuple[int, bytes, bytes]]:
        """Up to ``limit`` records with ``seq`` or above, in order (used to catch up).

        Reading goes on from where the last call stopped when it asks for what follows.
        """
        out: list[tuple[int, bytes, bytes]] = []
        target = seq
        if self._cursor is None or self._cursor[2] != seq:
            self._cursor = None
            start = next((g for g in self.segments if g.last_seq >= seq), None)
            if start is not None:
                self._cursor = (start.first_seq, 0, seq)
        while self._cursor is not None and len(out) < limit:
            first, offset, _ = self._cursor
            found = next((g for g in self.segments if g.first_seq == first), None)
            if found is None:
                self._cursor = None
                break
            seg = found
            frames, _ = _read_frames(seg.path, offset, READ_CHUNK)
            end = offset
            for s, topic, payload, frame_end in frames:
                if len(out) >= limit:
                    break
                end = frame_end
                seq = s + 1
                if s >= target:
                    out.append((s, topic, payload))
            self._cursor = (first, end, seq)
            if end >= seg.size:  # this segment is done: on to the next one, if any
                later = [g for g in self.segments if g.first_seq > first]
                if not later:
                    break
                self._cursor = (later[0].first_seq, 0, seq)
            elif not frames or len(out) >= limit:
                break
        return out

    def read_seqs(self, seqs: list[int]) -> list[tuple[int, bytes, bytes]]:
        """The records with these ``seqs`` (ascending), to send them again; a seq no longer
        here (its segment was dropped to keep the bound) is left out."""
        if not seqs:
            return []
        wanted = set(seqs)
        lo, hi = seqs[0], seqs[-1]
        out: list[tuple[int, bytes, bytes]] = []
        for seg in self.segments:
            if seg.last_seq < lo or seg.first_seq > hi:
                continue
            out.extend((seq, topic, payload) for seq, topic, payload, _ in _frames(seg.path) if seq in wanted)
        return out

    # -- forgetting --------------------------------------------------------------------
    def advance(self, watermark: int) -> None:
        """Everything below ``watermark`` is stored: delete segments wholly below it."""
        if watermark <= self.watermark:
            return
        self.watermark = watermark
        while len(self.segments) > 1 and self.segments[0].last_seq < watermark:
            os.remove(self.segments.pop(0).path)

    def enforce_bound(self) -> int:
        """Drop the oldest segments while the spool is over its bound; how many records went."""
        lost = 0
        while self.size > self.max_bytes and len(self.segments) > 1:
            first, last = self.drop_oldest()
            lost += max(0, last - first + 1)
        return lost

    def drop_oldest(self) -> tuple[int, int]:
        """Delete the oldest segment to make room; returns the seq range lost (first, last)."""
        if len(self.segments) < 2:
            return (0, -1)
        seg = self.segments.pop(0)
        os.remove(seg.path)
        first = max(seg.first_seq, self.watermark)
        self.watermark = max(self.watermark, seg.last_seq + 1)
        return (first, seg.last_seq)

    def close(self) -> None:
        self.save_state()
        self._close_out()
        if self.watermark >= self.next_seq:  # everything is stored: nothing to keep on disk
            for seg in self.segments:
                os.remove(seg.path)
            self.segments = []
        self._lock.close()


def _read_frames(path: Path, offset: int, max_bytes: int) -> tuple[list[tuple[int, bytes, bytes, int]], int]:
    """Whole frames from ``offset`` (about ``max_bytes`` of them) and the offset after them."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read(max_bytes)
            while True:  # make sure the last frame is whole, unless the file ends
                if len(data) < _HEADER.size:
                    break
                need = _frames_need(data)
                if need <= len(data):
                    break
                more = fh.read(need - len(data))
                if not more:
                    break
                data += more
    except FileNotFoundError:
        return [], offset
    frames = [(seq, topic, payload, offset + end) for seq, topic, payload, end in _parse(data)]
    return frames, (frames[-1][3] if frames else offset)


def _frames_need(data: bytes) -> int:
    """How many bytes ``data`` must have for the frames it starts to be whole."""
    pos = 0
    while pos + _HEADER.size <= len(data):
        length = _HEADER.unpack_from(data, pos)[0]
        if pos + 4 + length > len(data):
            return pos + 4 + length
        pos += 4 + length
    return len(data) if pos == len(data) else pos + _HEADER.size


def _parse(data: bytes) -> Iterator[tuple[int, bytes, bytes, int]]:
    """(seq, topic, payload, end offset) of each whole frame in ``data``."""
    pos, n = 0, len(data)
    while pos + _HEADER.size <= n:
        length, seq, tlen = _HEADER.unpack_from(data, pos)
        end = pos + 4 + length
        if end > n or length < 10 + tlen:
            return
        start = pos + _HEADER.size
        yield seq, data[start : start + tlen], data[start + tlen : end], end
        pos = end


def _frames(path: Path) -> Iterator[tuple[int, bytes, bytes, int]]:
    """Every whole frame of a segment file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    yield from _parse(data)


def drop_notice(lost: int, name: str, subsystem: str, producer_id: str) -> dict[str, object]:
    """The record that says records were dropped, sent once the bus is back."""
    return {
        "timestamp": now_utc(), "level": "WARNING", "subsystem": subsystem,
        "module": "aico.logging.spool", "function": "drop_oldest", "topic": "logging.drops",
        "message": f"{lost} records dropped by {name}: spool full",
        "extra": json.dumps({"dropped": lost, "producer_id": producer_id, "reason": "spool_full"}),
    }


def open_spool(root: Path, name: str, *, segment_bytes: int, max_bytes: int) -> Spool:
    """The spool ``root/name``, or ``name.2``, ``name.3``... if another live process holds it."""
    for i in range(1, 1000):
        directory = root / (name if i == 1 else f"{name}.{i}")
        try:
            return Spool(directory, segment_bytes=segment_bytes, max_bytes=max_bytes)
        except SpoolLocked:
            continue
    raise SpoolLocked(f"{root}/{name}: every spool slot is in use")
