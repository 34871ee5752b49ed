"""The spool's segments: files ``seg-<first seq>.enc`` of sealed frames, or their frames in memory.

A segment is read from an offset a chunk at a time (catching up after an outage) or whole
(sending chosen records again). ``scan`` finds the segments of a spool directory when it is
opened: it seals an older version's plain segments first (``spool_legacy``), notes each frame
that fails authentication, and cuts off a torn last frame left by a crash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aico.logging.spool_cipher import Item, SpoolCipher
from aico.logging.spool_legacy import seal_plain
from aico.logging.spool_state import valid_seq


@dataclass
class Segment:
    first_seq: int
    path: Path
    size: int
    last_seq: int
    memory: bytearray | None = None  # the frames, when the disk refused them

    def read(self, cipher: SpoolCipher, offset: int, max_bytes: int) -> tuple[list[Item], int]:
        """The frames from ``offset`` (about ``max_bytes`` of them) and the offset after them."""
        if self.memory is None:
            return _read_items(cipher, self.path, offset, max_bytes)
        items, end = cipher.walk(bytes(self.memory[offset:]), final=True)
        return [_shift(i, offset) for i in items], offset + end

    def items(self, cipher: SpoolCipher) -> list[Item]:
        if self.memory is not None:
            return cipher.walk(bytes(self.memory), final=True)[0]
        try:
            return cipher.walk(self.path.read_bytes(), final=True)[0]
        except FileNotFoundError:
            return []

    def remove(self) -> None:
        if self.memory is None:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
            except OSError:  # a read-only disk: the next start skips it (below the watermark)
                pass


def scan(directory: Path, cipher: SpoolCipher, bad: set[tuple[int, int]]) -> list[Segment]:
    """The segments in ``directory``, oldest first; ``(segment, offset)`` of each frame that fails
    authentication is added to ``bad``."""
    for tmp in directory.glob("seg-*.tmp"):  # a sealing cut short: its plain segment is still there
        tmp.unlink(missing_ok=True)
    for plain in (p for p in directory.glob("seg-*.log") if valid_seq(p.stem[4:])):
        seal_plain(cipher, plain)
    segments = []
    named = [p for p in directory.glob("seg-*.enc") if valid_seq(p.stem[4:])]  # a stray file is left alone
    for path in sorted(named, key=lambda p: int(p.stem[4:])):
        first = int(path.stem[4:])
        last = first - 1
        items, good = cipher.walk(path.read_bytes(), final=False)
        for item in items:
            if not item.ok:
                bad.add((first, item.start))
            last = max(last, item.seq)  # a damaged frame's seq is never given again
        size = path.stat().st_size
        if good < size:  # a torn last frame from a crash: cut it off
            with path.open("r+b") as fh:
                fh.truncate(good)
            size = good
        segments.append(Segment(first, path, size, last))
    return segments


def _shift(item: Item, offset: int) -> Item:
    return item._replace(start=item.start + offset, end=item.end + offset)


def _read_items(cipher: SpoolCipher, path: Path, offset: int, max_bytes: int) -> tuple[list[Item], int]:
    """The frames of a segment file from ``offset`` (about ``max_bytes`` of them) and the offset after them."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read(max_bytes)
            final = len(data) < max_bytes
            while not final:  # make sure the last frame is whole, unless the file ends
                need = cipher.need(data)
                if need <= len(data):
                    break
                more = fh.read(need - len(data))
                final = len(more) < need - len(data)
                data += more
    except FileNotFoundError:
        return [], offset
    items, end = cipher.walk(data, final=final)
    return [_shift(i, offset) for i in items], offset + end
