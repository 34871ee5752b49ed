"""Rotating the archive key: every archive re-encrypted, one file at a time, crash-safely.

The new key is first kept as ``archive.next``. Each archive not yet under it is read with the
old key, written again under the new one to a temporary file, checked, fsynced and renamed over
the old file: a file is whole under one key or the other at every moment. Once every file is
done, ``archive`` holds the new key and ``archive.next`` is forgotten. A rotation cut short is
finished by ``settle_archives``, which ``archive_key`` calls whenever ``archive.next`` exists:
whoever needs the archives next (a search, a retention run, ``aico keys rotate archives``
again) completes it first, so a reader never meets a file its key does not open.
"""

from __future__ import annotations

import os
from pathlib import Path

from aico.backend.status import _alive
from aico.config.settings import Settings
from aico.errors import AicoError
from aico.keys import find_key
from aico.keyset.inventory import fingerprint
from aico.keyset.keeping import begin_rotation, drop_key, get_key, put_key
from aico.retention import archives
from aico.retention.archive_file import ArchiveReader, read_footer, verify_archive, write_archive

NEXT = "archive.next"


def _opens(path: Path, key: str) -> bool:
    try:
        read_footer(path, key)
    except AicoError:
        return False
    return True


def _rekey_file(path: Path, day: str, old: str, new: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.rekey")
    compression = read_footer(path, old).compression
    with ArchiveReader(path, old, expect_day=day) as reader:
        columns, lines = reader.columns_and_lines()
        write_archive(tmp, day=day, key=new, compression=compression, columns=columns, lines=lines)
    verify_archive(tmp, new, expect_day=day)
    os.replace(tmp, path)
    archives.fsync_dir(path.parent)


def _finish(settings: Settings, old: str, new: str) -> list[str]:
    """Every archive under ``new``; the days that open with neither key (left as they are)."""
    folder = archives.archive_dir(settings)
    for stale in folder.glob(".logs-*.rekey") if folder.is_dir() else []:
        pid = stale.name.rsplit(".", 2)[-2]
        if not pid.isdigit() or not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    unreadable = []
    for day, path in archives.archived_days(settings).items():
        if _opens(path, new):
            continue
        if not _opens(path, old):
            unreadable.append(day)
            continue
        _rekey_file(path, day, old, new)
    return unreadable


def settle_archives(settings: Settings) -> None:
    """Finish a rotation that was cut short (nothing to do when none was)."""
    pending = get_key(settings, NEXT)
    if pending is None:
        return
    current = find_key(settings, archives.KEY_NAME, archives.KEY_ENV)
    if current is not None and current[1] != pending[1]:
        _finish(settings, current[1], pending[1])
    where = current[0] if current and current[0] != "environment" else pending[0]
    put_key(settings, archives.KEY_NAME, pending[1], where)
    drop_key(settings, NEXT)


def rotate_archives(settings: Settings) -> tuple[str, str, list[str]]:
    """Re-encrypt every archive under a new key: (old, new) fingerprints and the unreadable days."""
    with archives.job_lock(settings):
        settle_archives(settings)
        where, old, new = begin_rotation(settings, archives.KEY_NAME, archives.KEY_ENV,
                                         "no archive key yet: there is nothing to rotate (no archive was written)")
        unreadable = _finish(settings, old, new)
        put_key(settings, archives.KEY_NAME, new, where)
        drop_key(settings, NEXT)
    return fingerprint(old), fingerprint(new), unreadable
