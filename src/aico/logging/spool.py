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

When the disk refuses a write (full, read-only, gone) the spool goes on in memory: new
segments are kept in memory, within ``memory_bytes``, and the disk is tried again with a
backoff; once it takes a write, new segments go to disk again. A spool that cannot be opened
on disk at all (a read-only ``AICO_HOME``) is memory-only from the start. Records held in
memory do not survive a crash of the process; ``close`` writes them to disk if it can.

Nothing here logs: this is logging infrastructure.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import time
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
DISK_RETRY_MIN_S = 0.5
DISK_RETRY_MAX_S = 15.0
MAX_SEQ = 2**63 - 1
_PRODUCER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")


@dataclass
class Segment:
    first_seq: int
    path: Path
    size: int
    last_seq: int
    memory: bytearray | None = None  # the frames, when the disk refused them

    def read(self, offset: int, max_bytes: int) -> tuple[list[tuple[int, bytes, bytes, int]], int]:
        if self.memory is None:
            return _read_frames(self.path, offset, max_bytes)
        data = bytes(self.memory[offset:])
        frames = [(seq, topic, payload, offset + end) for seq, topic, payload, end in _parse(data)]
        return frames, (frames[-1][3] if frames else offset)

    def frames(self) -> Iterator[tuple[int, bytes, bytes, int]]:
        if self.memory is None:
            return _frames(self.path)
        return _parse(bytes(self.memory))

    def remove(self) -> None:
        if self.memory is None:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
            except OSError:  # a read-only disk: the next start skips it (below the watermark)
                pass


class SpoolLocked(Exception):
    """Another live process owns this spool."""


class SpoolWriteError(Exception):
    """The disk refused a write; ``written`` is what went in before it (seq, topic, payload)."""

    def __init__(self, written: list[tuple[int, bytes, bytes]], cause: OSError) -> None:
        super().__init__(str(cause))
        self.written = written
        self.cause = cause


class Spool:
    def __init__(self, directory: Path, *, segment_bytes: int, max_bytes: int,
                 memory_bytes: int | None = None, memory_only: bool = False) -> None:
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.memory_bytes = max_bytes if memory_bytes is None else min(memory_bytes, max_bytes)
        self.memory_only = memory_only
        self.disk_error: OSError | None = None  # the last refusal, while the disk refuses
        self.disk_errors = 0  # writes the disk refused, all told
        self._disk_retry_at = 0.0
        self._disk_backoff = DISK_RETRY_MIN_S
        self._lock = None
        state: dict[str, object] = {}
        if not memory_only:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock = open(directory / "lock", "a+")  # noqa: SIM115 - held for the spool's lifetime
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lock.close()
                raise SpoolLocked(str(directory)) from None
            state = self._read_state()
        self.producer_id: str = _valid_id(state.get("producer_id")) or uuid.uuid4().hex
        self.watermark: int = _valid_seq(state.get("watermark")) or 1
        self.segments: list[Segment] = [] if memory_only else self._scan()
        last = self.segments[-1].last_seq if self.segments else 0
        self.next_seq = max(self.watermark, last + 1)
        self._saved_watermark = -1
        self._out: FileIO | None = None
        self._cursor: tuple[int, int, int] | None = None  # (segment first seq, offset, next seq)
        self.save_state()

    @property
    def memory_size(self) -> int:
        return sum(s.size for s in self.segments if s.memory is not None)

    def _disk_refused(self, exc: OSError) -> None:
        self.disk_error = exc
        self.disk_errors += 1
        self._disk_retry_at = time.monotonic() + self._disk_backoff
        self._disk_backoff = min(self._disk_backoff * 2, DISK_RETRY_MAX_S)

    # -- state -------------------------------------------------------------------------
    def _read_state(self) -> dict[str, object]:
        try:
            data = json.loads((self.dir / "state.json").read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def save_state(self) -> None:
        """Write the watermark down; a disk that refuses is tried again at the next call."""
        if self._saved_watermark == self.watermark or self.memory_only:
            return
        tmp = self.dir / "state.json.tmp"
        try:
            tmp.write_text(json.dumps({"producer_id": self.producer_id, "watermark": self.watermark}))
            os.replace(tmp, self.dir / "state.json")
        except OSError as exc:  # a stale watermark only means resending what is stored (harmless)
            self.disk_error = exc
            return
        self._saved_watermark = self.watermark

    def _scan(self) -> list[Segment]:
        segments = []
        named = [p for p in self.dir.glob("seg-*.log") if _valid_seq(p.stem[4:])]  # a stray file is left alone
        for path in sorted(named, key=lambda p: int(p.stem[4:])):
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

        What the disk refuses goes to a memory segment (see the module's docstring); only an
        unexpected error raises ``SpoolWriteError``, with what was written before it.
        """
        first = self.next_seq
        pack = _HEADER.pack
        frames = [pack(10 + len(topic) + len(payload), first + i, len(topic)) + topic + payload
                  for i, (topic, payload) in enumerate(items)]
        done = 0
        try:
            while done < len(frames):
                if (not self.segments or self.segments[-1].size >= self.segment_bytes
                        or (self.segments[-1].memory is not None and self._disk_due())):
                    self._roll(first + done)
                seg = self.segments[-1]
                # This segment takes frames up to and with the one that brings it to its size.
                sizes = list(accumulate(map(len, frames[done:])))
                take = min(bisect_left(sizes, self.segment_bytes - seg.size) + 1, len(sizes))
                try:
                    self._write(seg, b"".join(frames[done : done + take]))
                except OSError as exc:
                    self._disk_refused(exc)
                    self._roll(first + done)  # a memory segment now: the disk is tried again later
                    continue
                seg.size += sizes[take - 1]
                done += take
                seg.last_seq = first + done - 1
        except OSError as exc:
            raise SpoolWriteError([(first + i, t, p) for i, (t, p) in enumerate(items[:done])], exc) from exc
        finally:
            self.next_seq = first + done  # refused records' seqs are given again: no gap
        return [(first + i, topic, payload) for i, (topic, payload) in enumerate(items)]

    def _disk_due(self) -> bool:
        return not self.memory_only and time.monotonic() >= self._disk_retry_at

    def _write(self, seg: Segment, data: bytes) -> None:
        """All of ``data`` at the end of ``seg``, handed to the OS in one call (it survives a
        SIGKILL of this process), or none of it: a partial write is cut off again."""
        if seg.memory is not None:
            seg.memory += data
            return
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
        """Start a segment at ``first_seq``: on disk when the disk is due, else in memory."""
        try:
            self._close_out()
        except OSError:
            pass
        if self.segments and self.segments[-1].size == 0:
            self.segments.pop().remove()  # an empty segment the disk refused: replaced
        path = self.dir / f"seg-{first_seq}.log"
        if self._disk_due():
            try:
                self._out = path.open("ab", buffering=0)
            except OSError as exc:
                self._disk_refused(exc)
            else:
                if self.disk_error is not None:  # the disk takes writes again
                    self.disk_error = None
                    self._disk_backoff = DISK_RETRY_MIN_S
                self.segments.append(Segment(first_seq, path, 0, first_seq - 1))
                return
        self.segments.append(Segment(first_seq, path, 0, first_seq - 1, memory=bytearray()))

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
            frames, _ = seg.read(offset, READ_CHUNK)
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
            out.extend((seq, topic, payload) for seq, topic, payload, _ in seg.frames() if seq in wanted)
        return out

    # -- forgetting --------------------------------------------------------------------
    def advance(self, watermark: int) -> None:
        """Everything below ``watermark`` is stored: delete segments wholly below it."""
        if watermark <= self.watermark:
            return
        self.watermark = watermark
        while len(self.segments) > 1 and self.segments[0].last_seq < watermark:
            self.segments.pop(0).remove()

    def enforce_bound(self) -> int:
        """Drop the oldest segments while the spool is over its bound; how many records went."""
        lost = 0
        while len(self.segments) > 1 and (self.size > self.max_bytes or self.memory_size > self.memory_bytes):
            first, last = self.drop_oldest()
            lost += max(0, last - first + 1)
        return lost

    def drop_oldest(self) -> tuple[int, int]:
        """Delete the oldest segment to make room; returns the seq range lost (first, last)."""
        if len(self.segments) < 2:
            return (0, -1)
        seg = self.segments.pop(0)
        seg.remove()
        first = max(seg.first_seq, self.watermark)
        self.watermark = max(self.watermark, seg.last_seq + 1)
        return (first, seg.last_seq)

    def close(self) -> None:
        """Save the state; what is held in memory is written to disk if the disk takes it now."""
        try:
            self._close_out()
        except OSError:
            pass
        if self.watermark >= self.next_seq:  # everything is stored: nothing to keep on disk
            for seg in self.segments:
                seg.remove()
            self.segments = []
        elif not self.memory_only:
            for seg in self.segments:
                if seg.memory is not None and seg.last_seq >= self.watermark:
                    try:
                        seg.path.write_bytes(bytes(seg.memory))
                    except OSError:
                        try:
                            os.remove(seg.path)  # not even a part of it may stay
                        except OSError:
                            pass
        self.save_state()
        if self._lock is not None:
            self._lock.close()


def _valid_id(value: object) -> str | None:
    """A producer id from the state file, or None if it is not one (a damaged or edited file)."""
    return value if isinstance(value, str) and _PRODUCER_ID.match(value) else None


def _valid_seq(value: object) -> int | None:
    """A seq (1 to 2^63-1) from the state file or a segment's name, or None if it is not one."""
    if isinstance(value, str) and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SEQ:
        return value
    return None


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


_DROP_WHY = {"spool_full": "spool full",
             "memory_full": "spool full (its disk refused writes, and the memory bound was reached)"}


def drop_notice(lost: int, name: str, subsystem: str, producer_id: str,
                reason: str = "spool_full") -> dict[str, object]:
    """The record that says records were dropped, sent once the bus is back."""
    return {
        "timestamp": now_utc(), "level": "WARNING", "subsystem": subsystem,
        "module": "aico.logging.spool", "function": "drop_oldest", "topic": "logging.drops",
        "message": f"{lost} records dropped by {name}: {_DROP_WHY.get(reason, reason)}",
        "extra": json.dumps({"dropped": lost, "producer_id": producer_id, "reason": reason}),
    }


def open_spool(root: Path, name: str, *, segment_bytes: int, max_bytes: int,
               memory_bytes: int | None = None) -> Spool:
    """The spool ``root/name``, or ``name.2``, ``name.3``... if another live process holds it.

    A folder that cannot be made or written (read-only, full, no permission) gives a
    memory-only spool: its ``disk_error`` says why.
    """
    for i in range(1, 1000):
        directory = root / (name if i == 1 else f"{name}.{i}")
        try:
            return Spool(directory, segment_bytes=segment_bytes, max_bytes=max_bytes, memory_bytes=memory_bytes)
        except SpoolLocked:
            continue
        except OSError as exc:
            spool = Spool(directory, segment_bytes=segment_bytes, max_bytes=max_bytes, memory_bytes=memory_bytes,
                          memory_only=True)
            spool.disk_error = exc
            return spool
    raise SpoolLocked(f"{root}/{name}: every spool slot is in use")
