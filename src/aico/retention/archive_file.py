"""The archive file: one day of records, compressed, then encrypted with AES-256-GCM.

Layout (all integers big-endian)::

    header   MAGIC (7) | version (1) | compression (1) | day "YYYY-MM-DD" (10) | salt (16)
    frames   length (4, top bit set on the last frame) | AES-GCM ciphertext + tag

The file key is HKDF-SHA256(archive key, salt): every file has its own key, so the frame
counter is a safe nonce (11 bytes of counter, then 1 for the last frame, 0 otherwise).
The header is the associated data of every frame, so its day and compression are
authenticated. Data frames carry the compressed payload in pieces of at most ``SEGMENT``
bytes; the last frame is a JSON footer with the record count and the SHA-256 of the
payload, so a truncated, reordered, extended or altered file fails to read.

The payload is UTF-8 text lines: first ``{"aico_archive": 1, "day": ..., "columns": [...]}``,
then one JSON array per record in that column order.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from aico.errors import EncryptionKeyError, StoreError
from aico.schema.timestamps import now_utc

MAGIC = b"AICOARC"
VERSION = 1
COMPRESSIONS = {"gzip": 1, "zstd": 2}
HEADER = struct.Struct(">7sBB10s16s")
LENGTH = struct.Struct(">I")
LAST = 0x8000_0000
SEGMENT = 1 << 20
MAX_FRAME = SEGMENT + 1024
TAG_BYTES = 16


@dataclass(frozen=True)
class Summary:
    """What an archive holds, as written or as read back."""

    day: str
    records: int
    sha256: str
    payload_bytes: int
    file_bytes: int
    compression: str
    created_at: str = ""


def _master(key: str) -> bytes:
    text = key.strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    return raw if len(raw) >= 16 else text.encode("utf-8")


def _file_key(key: str, salt: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"aico-archive-v1")
    return AESGCM(hkdf.derive(_master(key)))


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class _Compressor:
    def __init__(self, name: str) -> None:
        if name == "gzip":
            self._obj: Any = zlib.compressobj(6, zlib.DEFLATED, 31)
        else:
            self._obj = zstandard.ZstdCompressor(level=3).compressobj()

    def compress(self, data: bytes) -> bytes:
        return bytes(self._obj.compress(data))

    def flush(self) -> bytes:
        return bytes(self._obj.flush())


def _decompressor(name: str) -> Any:
    return zlib.decompressobj(31) if name == "gzip" else zstandard.ZstdDecompressor().decompressobj()


def write_archive(path: Path, *, day: str, key: str, compression: str, columns: Iterable[str],
                  lines: Iterable[str]) -> Summary:
    """Write ``lines`` (JSON arrays, no newline) as the archive of ``day`` to ``path``, fsynced."""
    if compression not in COMPRESSIONS:
        raise StoreError(f"unknown archive compression {compression!r} (expected gzip or zstd)")
    salt = os.urandom(16)
    header = HEADER.pack(MAGIC, VERSION, COMPRESSIONS[compression], day.encode("ascii"), salt)
    aead = _file_key(key, salt)
    digest = hashlib.sha256()
    compressor = _Compressor(compression)
    records = payload_bytes = 0
    counter = 0
    pending = bytearray()

    with open(path, "wb") as fh:
        fh.write(header)

        def emit(chunk: bytes, last: bool) -> None:
            nonlocal counter
            sealed = aead.encrypt(_nonce(counter, last), chunk, header)
            fh.write(LENGTH.pack(len(sealed) | (LAST if last else 0)))
            fh.write(sealed)
            counter += 1

        def feed(data: bytes) -> None:
            nonlocal payload_bytes
            digest.update(data)
            payload_bytes += len(data)
            pending.extend(compressor.compress(data))
            while len(pending) >= SEGMENT:
                emit(bytes(pending[:SEGMENT]), False)
                del pending[:SEGMENT]

        first = {"aico_archive": VERSION, "day": day, "columns": list(columns)}
        feed(json.dumps(first).encode() + b"\n")
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            records += 1
            if len(batch) >= 512:
                feed(("\n".join(batch) + "\n").encode("utf-8"))
                batch.clear()
        if batch:
            feed(("\n".join(batch) + "\n").encode("utf-8"))
        pending.extend(compressor.flush())
        for start in range(0, len(pending), SEGMENT):
            emit(bytes(pending[start:start + SEGMENT]), False)
        summary = Summary(day, records, digest.hexdigest(), payload_bytes, 0, compression, now_utc())
        footer = {"day": day, "records": records, "sha256": summary.sha256, "payload_bytes": payload_bytes,
                  "compression": compression, "created_at": summary.created_at}
        emit(json.dumps(footer).encode(), True)
        fh.flush()
        os.fsync(fh.fileno())
        size = fh.tell()
    return Summary(day, records, summary.sha256, payload_bytes, size, compression, summary.created_at)


class ArchiveReader:
    """Reads and checks one archive; iterate ``lines()``, then ``summary`` is the verified footer."""

    def __init__(self, path: Path, key: str, *, expect_day: str | None = None) -> None:
        self.path = path
        self._fh: BinaryIO = open(path, "rb")  # noqa: SIM115 (closed by close())
        raw = self._fh.read(HEADER.size)
        if len(raw) < HEADER.size:
            self.close()
            raise StoreError(f"{path}: not an aico archive (too short)")
        magic, version, comp, day, salt = HEADER.unpack(raw)
        names = {v: k for k, v in COMPRESSIONS.items()}
        if magic != MAGIC or version != VERSION or comp not in names:
            self.close()
            raise StoreError(f"{path}: not an aico archive of version {VERSION}")
        self.header = raw
        self.day = day.decode("ascii", "replace")
        if expect_day is not None and self.day != expect_day:
            self.close()
            raise StoreError(f"{path}: holds day {self.day}, expected {expect_day}")
        self.compression = names[comp]
        self._aead = _file_key(key, salt)
        self._counter = 0
        self.columns: list[str] = []
        self.summary: Summary | None = None

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _frame(self) -> tuple[bytes, bool]:
        raw = self._fh.read(LENGTH.size)
        if len(raw) < LENGTH.size:
            raise StoreError(f"{self.path}: archive is truncated (no final frame)")
        (word,) = LENGTH.unpack(raw)
        last, length = bool(word & LAST), word & ~LAST
        if not TAG_BYTES <= length <= MAX_FRAME:
            raise StoreError(f"{self.path}: archive is damaged (bad frame length {length})")
        sealed = self._fh.read(length)
        if len(sealed) < length:
            raise StoreError(f"{self.path}: archive is truncated")
        try:
            plain = self._aead.decrypt(_nonce(self._counter, last), sealed, self.header)
        except InvalidTag:
            raise EncryptionKeyError(
                f"{self.path}: cannot decrypt frame {self._counter}: wrong archive key, or the file was altered"
            ) from None
        self._counter += 1
        return plain, last

    def _footer(self, plain: bytes) -> dict[str, Any]:
        if self._fh.read(1):
            raise StoreError(f"{self.path}: archive has data after its final frame")
        footer: dict[str, Any] = json.loads(plain)
        if footer.get("day") != self.day:
            raise StoreError(f"{self.path}: footer names day {footer.get('day')}, header {self.day}")
        return footer

    def footer(self) -> Summary:
        """The footer alone (frames are skipped, only the last one is decrypted): for listings."""
        while True:
            raw = self._fh.read(LENGTH.size)
            if len(raw) < LENGTH.size:
                raise StoreError(f"{self.path}: archive is truncated (no final frame)")
            (word,) = LENGTH.unpack(raw)
            if word & LAST:
                self._fh.seek(-LENGTH.size, os.SEEK_CUR)
                plain, _ = self._frame()
                f = self._footer(plain)
                return Summary(self.day, f["records"], f["sha256"], f["payload_bytes"],
                               self.path.stat().st_size, self.compression, f.get("created_at", ""))
            self._fh.seek(word, os.SEEK_CUR)
            self._counter += 1

    def lines(self) -> Iterator[str]:
        """Every record line, in order; raises once the end shows a wrong count or checksum."""
        digest = hashlib.sha256()
        decompressor = _decompressor(self.compression)
        carry = b""
        records = payload_bytes = 0
        columns_seen = False
        while True:
            plain, last = self._frame()
            if last:
                break
            data = decompressor.decompress(plain)
            digest.update(data)
            payload_bytes += len(data)
            parts = (carry + data).split(b"\n")
            carry = parts.pop()
            for part in parts:
                if not columns_seen:
                    self.columns = list(json.loads(part)["columns"])
                    columns_seen = True
                    continue
                records += 1
                yield part.decode("utf-8")
        footer = self._footer(plain)
        if carry or not decompressor.eof:
            raise StoreError(f"{self.path}: archive payload is incomplete")
        summary = Summary(self.day, records, digest.hexdigest(), payload_bytes, self.path.stat().st_size,
                          self.compression, footer.get("created_at", ""))
        if (records, summary.sha256, payload_bytes) != (footer["records"], footer["sha256"], footer["payload_bytes"]):
            raise StoreError(
                f"{self.path}: archive does not match its footer ({records} records read, {footer['records']} recorded)"
            )
        self.summary = summary

    def columns_and_lines(self) -> tuple[list[str], Iterator[str]]:
        """The column names (read from the first payload line) and the record lines that follow."""
        it = self.lines()
        first = next(it, None)
        columns = self.columns

        def rest() -> Iterator[str]:
            if first is not None:
                yield first
                yield from it

        return columns, rest()


def verify_archive(path: Path, key: str, *, expect_day: str | None = None) -> Summary:
    """Read ``path`` to the end and return its checked summary (count and checksum)."""
    with ArchiveReader(path, key, expect_day=expect_day) as reader:
        for _ in reader.lines():
            pass
        if reader.summary is None:  # lines() sets it when it reaches a valid end
            raise StoreError(f"{path}: archive could not be verified")
        return reader.summary


def read_footer(path: Path, key: str) -> Summary:
    with ArchiveReader(path, key) as reader:
        return reader.footer()
