"""The spool's frames on disk: each batch of records sealed with AES-256-GCM under the spool key.

A frame holds the records of one write (one ``Spool.append`` into one segment): a 24-byte
header in clear, then the sealed body::

    header  [4 magic][u32 body length][u64 first seq][u32 records][u32 CRC-32 of the 20 bytes before it]
    body    [12 nonce][AES-GCM(records, associated data = header[:20])]
    record  [u16 topic length][u32 payload length][topic][payload]

The nonce is random for every frame. The header is bound to the body (associated data), so a
frame moved to other seqs fails to open like a tampered one. The CRC and the magic keep frame
boundaries when a frame is damaged: a header that does not check is skipped by searching for
the next magic, and a body that fails authentication is skipped by its length; either way the
frames after it are still read. Both are counted by the spool, never raised. (One seal per
batch, not per record: a seal costs about 4 us on the reference machine, whatever its size.)

The key is the ``spool`` key, kept like the other keys (environment ``AICO_SPOOL_KEY``, the OS
keyring, or ``$AICO_HOME/keys/spool.key``), made on first use. After ``aico keys rotate spool``
the key before it is kept as ``spool.prev``: frames are sealed under the current key and opened
under either, so what was spooled before the rotation (or by a process started before it) is
still replayed.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import zlib
from collections.abc import Iterator
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aico.config.settings import Settings

MAGIC = b"\xa1sp1"
HEADER = struct.Struct("<4sIQII")  # magic, body length, first seq, records, crc32 of the first 20 bytes
_HEAD = struct.Struct("<4sIQI")
NONCE = 12
TAG = 16
MAX_BODY = 1 << 30
SPOOL_KEY = "spool"
SPOOL_KEY_ENV = "AICO_SPOOL_KEY"
PREVIOUS_KEY = "spool.prev"
_RECORD = struct.Struct("<HI")  # topic length, payload length
FRAME_OVERHEAD = HEADER.size + NONCE + TAG
RECORD_OVERHEAD = _RECORD.size


class Item(NamedTuple):
    """One step of a walk over frames: a frame opened, or a damaged stretch skipped."""

    seq: int  # a damaged frame: its last seq, or -1 for a stretch with no header that checks
    ok: bool  # False: the frame failed authentication, or the stretch is no frame at all
    topic: bytes
    payload: bytes
    start: int  # where the frame holding it starts
    end: int  # where reading goes on after it: its frame's end for a frame's last record, else its start


def key_bytes(text: str) -> bytes:
    """256 bits from a stored key: the hex it holds, or a hash of any other text (a key set by hand)."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    return raw if len(raw) == 32 else hashlib.sha256(text.encode()).digest()


class SpoolCipher:
    """Seals under ``key``; opens under ``key``, then each of ``previous`` (keys rotated away)."""

    def __init__(self, key: bytes, previous: tuple[bytes, ...] = ()) -> None:
        self._aead = AESGCM(key)
        self._openers = (self._aead, *(AESGCM(k) for k in previous if k != key))

    def _open(self, body: bytes, associated: bytes) -> bytes:
        for aead in self._openers[:-1]:
            try:
                return aead.decrypt(body[:NONCE], body[NONCE:], associated)
            except InvalidTag:
                continue
        return self._openers[-1].decrypt(body[:NONCE], body[NONCE:], associated)

    def seal(self, items: list[tuple[bytes, bytes]], first_seq: int) -> bytes:
        """One frame holding ``items`` (topic, payload), numbered from ``first_seq``."""
        nonce = os.urandom(NONCE)
        pack = _RECORD.pack
        plain = b"".join(pack(len(t), len(p)) + t + p for t, p in items)
        head = _HEAD.pack(MAGIC, NONCE + TAG + len(plain), first_seq, len(items))
        head += zlib.crc32(head).to_bytes(4, "little")
        return head + nonce + self._aead.encrypt(nonce, plain, head[:20])

    def walk(self, data: bytes, *, final: bool) -> tuple[list[Item], int]:
        """Every record of the whole frames in ``data`` (a damaged frame or stretch as one item,
        ``ok`` false) and the offset reading may go on from. ``final`` says ``data`` runs to the
        end of the file: a damaged tail is then skipped too, where otherwise more bytes may yet
        make it whole."""
        out: list[Item] = []
        pos = 0
        for start, end, first, count in _headers(data, final=final):
            if first < 0:
                out.append(Item(-1, False, b"", b"", start, end))
            else:
                body = data[start + HEADER.size : end]
                try:
                    out.extend(_records(self._open(body, data[start : start + 20]), first, count, start, end))
                except (InvalidTag, ValueError, struct.error):
                    out.append(Item(first + count - 1, False, b"", b"", start, end))
            pos = end
        return out, pos

    def need(self, data: bytes) -> int:
        """How many bytes ``data`` must have for the frame at its end to be whole."""
        pos = 0
        for _, end, _, _ in _headers(data, final=False):
            pos = end
        rest = data[pos:]
        if len(rest) < HEADER.size:
            return pos + HEADER.size if rest else len(data)
        if _header_ok(rest, 0):
            body: int = HEADER.unpack_from(rest)[1]
            return pos + HEADER.size + body
        return len(data)


def _records(plain: bytes, first: int, count: int, start: int, end: int) -> list[Item]:
    out, pos = [], 0
    for k in range(count):
        tlen, plen = _RECORD.unpack_from(plain, pos)
        pos += _RECORD.size
        topic, payload = plain[pos : pos + tlen], plain[pos + tlen : pos + tlen + plen]
        pos += tlen + plen
        out.append(Item(first + k, True, topic, payload, start, end if k == count - 1 else start))
    if pos != len(plain):
        raise ValueError("records do not fill the frame")
    return out


def _header_ok(data: bytes, pos: int) -> bool:
    magic, length, _, count, crc = HEADER.unpack_from(data, pos)
    return bool(magic == MAGIC and NONCE + TAG <= length <= MAX_BODY and count > 0
            and zlib.crc32(data[pos : pos + 20]) == crc)


def _headers(data: bytes, *, final: bool) -> Iterator[tuple[int, int, int, int]]:
    """(start, end, first seq, records) of each whole frame; first seq -1 for a damaged stretch."""
    pos, n = 0, len(data)
    while pos < n:
        if pos + HEADER.size <= n and _header_ok(data, pos):
            end = pos + HEADER.size + HEADER.unpack_from(data, pos)[1]
            if end > n:
                if final:
                    yield pos, n, -1, 0
                return
            _, _, first, count, _ = HEADER.unpack_from(data, pos)
            yield pos, end, first, count
            pos = end
            continue
        if pos + HEADER.size > n and not final:
            return  # a header not yet whole
        nxt = data.find(MAGIC, pos + 1)
        if nxt < 0:
            if final:
                yield pos, n, -1, 0
            else:  # the last bytes may start a magic: keep them for the next read
                cut = max(pos, n - len(MAGIC) + 1)
                if cut > pos:
                    yield pos, cut, -1, 0
            return
        yield pos, nxt, -1, 0
        pos = nxt


def spool_cipher(settings: Settings) -> SpoolCipher:
    """The cipher under this home's spool key (made on first use). A key that cannot be read or
    kept gives a key for this process only, said on stderr: what it spools is lost at a restart."""
    from aico.keys import find_key, load_key  # the keys module imports nothing of the store itself

    try:
        key = key_bytes(load_key(settings, SPOOL_KEY, create=True, env_var=SPOOL_KEY_ENV))
        previous = find_key(settings, PREVIOUS_KEY, None)
        return SpoolCipher(key, (key_bytes(previous[1]),) if previous else ())
    except Exception as exc:  # noqa: BLE001 - the logging call never fails: a key for this process only
        sys.stderr.write(f"aico: cannot read or keep the spool key ({exc}); this process spools under a "
                         "key of its own, and what it spools does not survive a restart\n")
        return SpoolCipher(os.urandom(32))
