"""Sealing a spool of an older version, whose segments (``seg-<first seq>.log``) hold frames in clear.

Such a segment is sealed into an ``.enc`` one under the spool key when the spool is opened, then
removed, so no record stays on disk in clear past the first start of this version. The sealed
copy is written to ``.tmp``, synced and renamed: a sealing cut short leaves the plain segment,
which the next start seals again (and removes the stray ``.tmp``).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

from aico.config.private import private_open
from aico.logging.spool_cipher import SpoolCipher

_PLAIN_HEADER = struct.Struct("<IQH")  # an older version's frame: length (after this field), seq, topic length


def seal_plain(cipher: SpoolCipher, plain: Path) -> None:
    """Seal a segment of an older version (frames in clear) into an ``.enc`` one, then remove it."""
    sealed = plain.with_suffix(".enc")
    if not sealed.exists():
        frames = [cipher.seal([(topic, payload)], seq) for seq, topic, payload in parse_plain(plain)]
        tmp = plain.with_suffix(".tmp")
        with open(tmp, "wb", opener=private_open) as fh:
            fh.write(b"".join(frames))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, sealed)
    plain.unlink()


def parse_plain(path: Path) -> Iterator[tuple[int, bytes, bytes]]:
    """(seq, topic, payload) of each whole frame of an older version's segment, in clear."""
    data = path.read_bytes()
    pos, n = 0, len(data)
    while pos + _PLAIN_HEADER.size <= n:
        length, seq, tlen = _PLAIN_HEADER.unpack_from(data, pos)
        end = pos + 4 + length
        if end > n or length < 10 + tlen:
            return
        start = pos + _PLAIN_HEADER.size
        yield seq, data[start : start + tlen], data[start + tlen : end]
        pos = end
