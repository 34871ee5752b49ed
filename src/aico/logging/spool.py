"""The producer's spool: an append-only, segmented file log of every record it produced.

Each record is written here before it is first sent, and the file is handed to the OS
before the send, so a record that left the process is on disk even if the process is
killed the next instant. Acknowledged records are forgotten by moving a watermark (all
``seq < watermark`` are stored) and deleting segments wholly below it. On the next start,
everything at or above the watermark is sent again; the store drops what it already has.

Layout of ``<spool dir>/``::

    lock                 flock: one live producer per spool
    state.json           {"producer_id": ..., "watermark": ...} (no record content)
    seg-<first seq>.enc  frames sealed under the spool key (AES-256-GCM, see ``spool_cipher.py``)

A frame that fails authentication (tampered, torn) is counted in ``bad_frames`` and skipped;
the frames after it are still read. A spool of an older version (``seg-<first seq>.log``, the
frames in clear) is sealed into ``.enc`` segments when the spool is opened, and removed.

When the disk refuses a write (full, read-only, gone) the spool goes on in memory: new
segments are kept in memory, within ``memory_bytes``, and the disk is tried again with a
backoff; once it takes a write, new segments go to disk again. A spool that cannot be opened
on disk at all (a read-only ``AICO_HOME``) is memory-only from the start. Records held in
memory do not survive a crash of the process; ``close`` writes them to disk if it can.

The segments (``spool_segments.py``), the sealing of an older version's plain segments
(``spool_legacy.py``) and the state file (``spool_state.py``) live beside this module.

Nothing here logs: this is logging infrastructure.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from bisect import bisect_left
from io import FileIO
from itertools import accumulate
from pathlib import Path

from aico.config.private import private_dir, private_open
from aico.logging.spool_cipher import FRAME_OVERHEAD, RECORD_OVERHEAD, SpoolCipher
from aico.logging.spool_segments import Segment, scan
from aico.logging.spool_state import read_state, valid_id, valid_seq, write_state
from aico.schema.timestamps import now_utc

__all__ = ["Spool", "SpoolLocked", "SpoolWriteError", "drop_notice", "open_spool"]

READ_CHUNK = 1 << 18  # 256 KiB at a time when catching up from disk
DISK_RETRY_MIN_S = 0.5
DISK_RETRY_MAX_S = 15.0


class SpoolLocked(Exception):
    """Another live process owns this spool."""


class SpoolWriteError(Exception):
    """The disk refused a write; ``written`` is what went in before it (seq, topic, payload)."""

    def __init__(self, written: list[tuple[int, bytes, bytes]], cause: OSError) -> None:
        super().__init__(str(cause))
        self.written = written
        self.cause = cause


class Spool:
    def __init__(self, directory: Path, *, cipher: SpoolCipher, segment_bytes: int, max_bytes: int,
                 memory_bytes: int | None = None, memory_only: bool = False) -> None:
        self.dir = directory
        self._cipher = cipher
        self._bad: set[tuple[int, int]] = set()  # (segment, offset) of frames that failed to open
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
            private_dir(directory)
            self._lock = open(directory / "lock", "a+", opener=private_open)  # noqa: SIM115 - held for its lifetime
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lock.close()
                raise SpoolLocked(str(directory)) from None
            state = read_state(directory)
        self.producer_id: str = valid_id(state.get("producer_id")) or uuid.uuid4().hex
        self.watermark: int = valid_seq(state.get("watermark")) or 1
        self.segments: list[Segment] = [] if memory_only else scan(directory, cipher, self._bad)
        last = self.segments[-1].last_seq if self.segments else 0
        self.next_seq = max(self.watermark, last + 1)
        self._saved_watermark = -1
        self._out: FileIO | None = None
        self._cursor: tuple[int, int, int] | None = None  # (segment first seq, offset, next seq)
        self.save_state()

    @property
    def bad_frames(self) -> int:
        """Frames skipped because they failed authentication (tampered or torn)."""
        return len(self._bad)

    @property
    def memory_size(self) -> int:
        return sum(s.size for s in self.segments if s.memory is not None)

    def _disk_refused(self, exc: OSError) -> None:
        self.disk_error = exc
        self.disk_errors += 1
        self._disk_retry_at = time.monotonic() + self._disk_backoff
        self._disk_backoff = min(self._disk_backoff * 2, DISK_RETRY_MAX_S)

    # -- state -------------------------------------------------------------------------
    def save_state(self) -> None:
        """Write the watermark down; a disk that refuses is tried again at the next call."""
        if self._saved_watermark == self.watermark or self.memory_only:
            return
        try:
            write_state(self.dir, self.producer_id, self.watermark)
        except OSError as exc:  # a stale watermark only means resending what is stored (harmless)
            self.disk_error = exc
            return
        self._saved_watermark = self.watermark

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
        sizes_all = [RECORD_OVERHEAD + len(topic) + len(payload) for topic, payload in items]
        done = 0
        try:
            while done < len(items):
                if (not self.segments or self.segments[-1].size >= self.segment_bytes
                        or (self.segments[-1].memory is not None and self._disk_due())):
                    self._roll(first + done)
                seg = self.segments[-1]
                # This segment takes records up to and with the one that brings it to its size.
                sizes = list(accumulate(sizes_all[done:]))
                take = min(bisect_left(sizes, self.segment_bytes - seg.size - FRAME_OVERHEAD) + 1, len(sizes))
                frame = self._cipher.seal(items[done : done + take], first + done)
                try:
                    self._write(seg, frame)
                except OSError as exc:
                    self._disk_refused(exc)
                    self._roll(first + done)  # a memory segment now: the disk is tried again later
                    continue
                seg.size += len(frame)
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
            self._out = open(seg.path, "ab", buffering=0, opener=private_open)  # noqa: SIM115 - kept open
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
        path = self.dir / f"seg-{first_seq}.enc"
        if self._disk_due():
            try:
                self._out = open(path, "ab", buffering=0, opener=private_open)  # noqa: SIM115 - kept open
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
            frames, resume = seg.read(self._cipher, offset, READ_CHUNK)
            end = offset
            for item in frames:
                if len(out) >= limit:
                    break
                end = item.end
                if not item.ok:
                    self._bad.add((first, item.start))
                    continue
                seq = item.seq + 1
                if item.seq >= target:
                    out.append((item.seq, item.topic, item.payload))
            else:
                end = max(end, resume)
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
            out.extend((i.seq, i.topic, i.payload) for i in seg.items(self._cipher) if i.ok and i.seq in wanted)
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
                        with open(seg.path, "wb", opener=private_open) as fh:
                            fh.write(bytes(seg.memory))
                    except OSError:
                        try:
                            os.remove(seg.path)  # not even a part of it may stay
                        except OSError:
                            pass
        self.save_state()
        if self._lock is not None:
            self._lock.close()


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


def open_spool(root: Path, name: str, *, cipher: SpoolCipher, segment_bytes: int, max_bytes: int,
               memory_bytes: int | None = None) -> Spool:
    """The spool ``root/name``, or ``name.2``, ``name.3``... if another live process holds it.

    A folder that cannot be made or written (read-only, full, no permission) gives a
    memory-only spool: its ``disk_error`` says why.
    """
    for i in range(1, 1000):
        directory = root / (name if i == 1 else f"{name}.{i}")
        try:
            return Spool(directory, cipher=cipher, segment_bytes=segment_bytes, max_bytes=max_bytes,
                         memory_bytes=memory_bytes)
        except SpoolLocked:
            continue
        except OSError as exc:
            spool = Spool(directory, cipher=cipher, segment_bytes=segment_bytes, max_bytes=max_bytes,
                          memory_bytes=memory_bytes, memory_only=True)
            spool.disk_error = exc
            return spool
    raise SpoolLocked(f"{root}/{name}: every spool slot is in use")
