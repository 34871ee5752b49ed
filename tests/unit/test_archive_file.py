"""The archive file format: compressed, encrypted, authenticated, verified on read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aico.errors import EncryptionKeyError, StoreError
from aico.retention import archive_file
from aico.retention.archive_file import ArchiveReader, read_footer, verify_archive, write_archive

KEY = "ab" * 32
COLUMNS = ["id", "timestamp", "message"]


def lines(n: int, day: str = "2026-11-01") -> list[str]:
    return [json.dumps([i, f"{day}T00:00:{i % 60:02d}.000000Z", f"secret payload {i} " + "x" * (i % 50)])
            for i in range(n)]


def write(path: Path, n: int = 500, compression: str = "gzip", day: str = "2026-11-01") -> archive_file.Summary:
    return write_archive(path, day=day, key=KEY, compression=compression, columns=COLUMNS, lines=lines(n, day))


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_round_trip_gives_back_every_line_and_holds_no_plain_text(tmp_path: Path, compression: str) -> None:
    """What is written reads back line for line, with the same count and checksum; no plain text on disk."""
    path = tmp_path / "a.arc"
    written = write(path, 500, compression)
    raw = path.read_bytes()
    assert b"secret payload" not in raw and b"timestamp" not in raw
    with ArchiveReader(path, KEY, expect_day="2026-11-01") as reader:
        columns, got = reader.columns_and_lines()
        assert list(got) == lines(500)
        assert columns == COLUMNS
        assert reader.summary is not None
        assert (reader.summary.records, reader.summary.sha256) == (500, written.sha256)
        assert reader.compression == compression
    assert written.payload_bytes > written.file_bytes  # it was compressed


def test_many_frames_and_fast_footer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A payload spread over many frames reads back whole, and the footer is found by skipping frames."""
    monkeypatch.setattr(archive_file, "SEGMENT", 256)
    path = tmp_path / "a.arc"
    written = write(path, 2000)
    footer = read_footer(path, KEY)
    assert (footer.records, footer.sha256, footer.day) == (2000, written.sha256, "2026-11-01")
    assert verify_archive(path, KEY).records == 2000


def test_an_empty_day_is_a_valid_archive(tmp_path: Path) -> None:
    """An archive with no records is still complete and verifiable."""
    path = tmp_path / "a.arc"
    write(path, 0)
    assert verify_archive(path, KEY).records == 0


def test_wrong_key_is_an_encryption_key_error(tmp_path: Path) -> None:
    """Another key cannot read an archive, and says so."""
    path = tmp_path / "a.arc"
    write(path)
    with pytest.raises(EncryptionKeyError, match="wrong archive key"):
        verify_archive(path, "cd" * 32)


@pytest.mark.parametrize("where", ["header_day", "body", "last_byte"])
def test_any_altered_byte_fails_authentication(tmp_path: Path, where: str) -> None:
    """Flipping a byte of the header (authenticated data) or of any frame fails the read."""
    path = tmp_path / "a.arc"
    write(path)
    raw = bytearray(path.read_bytes())
    index = {"header_day": 10, "body": len(raw) // 2, "last_byte": len(raw) - 1}[where]
    raw[index] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(StoreError):
        verify_archive(path, KEY)


def test_truncated_or_extended_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file cut at a frame boundary (no footer) or with bytes appended does not pass as whole."""
    monkeypatch.setattr(archive_file, "SEGMENT", 256)
    path = tmp_path / "a.arc"
    write(path, 300)
    raw = path.read_bytes()
    path.write_bytes(raw + b"\x00")
    with pytest.raises(StoreError, match="after its final frame"):
        verify_archive(path, KEY)
    cut = raw[: archive_file.HEADER.size + 4 + 256 + archive_file.TAG_BYTES]  # the first data frame only
    path.write_bytes(cut)
    with pytest.raises(StoreError, match="truncated"):
        verify_archive(path, KEY)


def test_a_renamed_file_is_caught_by_its_authenticated_day(tmp_path: Path) -> None:
    """The day inside the file must be the day asked for: renaming a file does not move its records."""
    path = tmp_path / "a.arc"
    write(path, 10, day="2026-11-01")
    with pytest.raises(StoreError, match="holds day 2026-11-01, expected 2026-11-02"):
        ArchiveReader(path, KEY, expect_day="2026-11-02")


def test_not_an_archive(tmp_path: Path) -> None:
    """Any other file is refused with a clear message."""
    path = tmp_path / "a.arc"
    path.write_bytes(b"hello world, this is not an archive at all")
    with pytest.raises(StoreError, match="not an aico archive"):
        verify_archive(path, KEY)
