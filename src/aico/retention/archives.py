"""The archive folder: one file per day, its key, the job lock, listing and reading records.

Files are ``logs-YYYY-MM-DD.arc``; a file being written is ``.logs-YYYY-MM-DD.arc.tmp``
until it is complete, fsynced and verified, then renamed over the final name in one step.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aico.config.private import fsync_path, private_dir
from aico.config.settings import Settings
from aico.errors import AicoError, StoreError
from aico.keys import load_key
from aico.retention.archive_file import ArchiveReader, Summary, read_footer

KEY_NAME = "archive"
KEY_ENV = "AICO_ARCHIVE_KEY"
_NAME = re.compile(r"^logs-(\d{4}-\d\d-\d\d)\.arc$")


def archive_dir(settings: Settings) -> Path:
    return settings.path(settings.core.logging.retention.archive_dir)


def ensure_dir(settings: Settings) -> Path:
    folder = archive_dir(settings)
    try:
        private_dir(folder)
        if folder.stat().st_mode & 0o777 != 0o700:
            os.chmod(folder, 0o700)
    except OSError as exc:
        raise StoreError(f"cannot use the archive folder {folder}: {exc.strerror}") from exc
    return folder


def path_for(settings: Settings, day: str) -> Path:
    return archive_dir(settings) / f"logs-{day}.arc"


def temp_path_for(settings: Settings, day: str) -> Path:
    return archive_dir(settings) / f".logs-{day}.arc.tmp"


def archived_days(settings: Settings) -> dict[str, Path]:
    """Day -> file, for every complete archive in the folder, oldest first."""
    folder = archive_dir(settings)
    if not folder.is_dir():
        return {}
    found = {}
    for entry in folder.iterdir():
        m = _NAME.match(entry.name)
        if m:
            found[m.group(1)] = entry
    return dict(sorted(found.items()))


def remove_temp_files(settings: Settings) -> list[Path]:
    """Delete the half-written files a killed job left (call only under the job lock)."""
    folder = archive_dir(settings)
    if not folder.is_dir():
        return []
    gone = [p for p in folder.glob(".logs-*.arc.tmp")]
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


def fsync_dir(folder: Path) -> None:
    """Hand a folder's entries (a rename into it) to the disk."""
    fsync_path(folder)


def archive_key(settings: Settings, *, create: bool = False) -> str:
    """The archive key, kept like the database key (``AICO_ARCHIVE_KEY``, keyring, ``keys/archive.key``).

    A new key is made only when ``create`` is asked and no archive exists yet: archives
    already written are never orphaned by a fresh key.
    """
    from aico.keyset.archive_rotation import settle_archives

    settle_archives(settings)  # a key rotation cut short is finished first (nothing to do when none was)
    return load_key(settings, KEY_NAME, create=create and not archived_days(settings), env_var=KEY_ENV)


@contextmanager
def job_lock(settings: Settings) -> Iterator[None]:
    """One retention job or restore at a time per home (a lock the kernel drops if we die)."""
    folder = ensure_dir(settings)
    path = folder / ".lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot lock the archive folder {folder}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise StoreError(f"another retention job or restore is running (pid {holder}); try again later") from None
        try:  # the holder's pid, for the message above: on a full disk the lock holds without it
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass
        try:
            yield
        finally:
            with suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Listing:
    """One archive file as ``aico logs archive ls`` shows it."""

    day: str
    path: Path
    file_bytes: int
    summary: Summary | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        s = self.summary
        return {
            "day": self.day, "file": str(self.path), "file_bytes": self.file_bytes,
            "records": s.records if s else None, "payload_bytes": s.payload_bytes if s else None,
            "compression": s.compression if s else None, "created_at": s.created_at if s else None,
            "error": self.error,
        }


def list_archives(settings: Settings) -> list[Listing]:
    """Every archive with its footer (count, sizes); an unreadable one is listed with its error."""
    days = archived_days(settings)
    if not days:
        return []
    out = []
    key: str | None = None
    key_error: str | None = None
    try:
        key = archive_key(settings)
    except AicoError as exc:
        key_error = str(exc)
    for day, path in days.items():
        size = path.stat().st_size
        if key is None:
            out.append(Listing(day, path, size, None, key_error))
            continue
        try:
            out.append(Listing(day, path, size, read_footer(path, key), None))
        except AicoError as exc:
            out.append(Listing(day, path, size, None, str(exc)))
    return out


def _select(days: Iterable[str], since: str | None, until: str | None) -> list[str]:
    return [d for d in days if (since is None or d >= since[:10]) and (until is None or d <= until[:10])]


def iter_archive_records(settings: Settings, days: Iterable[str] | None = None, *,
                         since: str | None = None, until: str | None = None) -> Iterator[dict[str, Any]]:
    """The archived records, as row dicts like the store's (``id`` first), oldest day first.

    ``days`` picks days by name; ``since``/``until`` (timestamps or days) skip whole files
    outside the range without opening them (records inside are not cut: filter them after).
    Each file is authenticated as it is read; a bad one raises before its records are trusted
    past the frame that failed.
    """
    present = archived_days(settings)
    chosen = list(present) if days is None else [d for d in days if d in present]
    chosen = _select(sorted(chosen), since, until)
    if not chosen:
        return
    key = archive_key(settings)
    for day in chosen:
        with ArchiveReader(present[day], key, expect_day=day) as reader:
            columns, lines = reader.columns_and_lines()
            for line in lines:
                yield dict(zip(columns, json.loads(line), strict=True))
