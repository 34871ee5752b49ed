"""The rekey gate: a lock file beside the store that a key rotation holds, and every opener respects.

A rekey needs the store to itself: SQLite3 Multiple Ciphers refuses ``PRAGMA rekey`` in WAL
mode, and leaving WAL needs every other connection closed. So ``<store>.rekey-lock`` (0600) is
taken with ``flock``:

    the rotation (keyset/rotation.py)   exclusive, from before it reads the keys until ``db``
                                        holds the new key and ``db.next`` is gone
    every open (LogStore.open)          shared, only while it reads the keys and connects: an
                                        open during a rotation waits for it, then reads the key
                                        now current, so it never pairs the old key with the
                                        re-keyed store
    a holder of a long-lived connection ``pending()`` before each use (the writer per batch,
                                        a tail per poll, the dashboard per request): true while
                                        a rotation waits, and the holder closes its connection
                                        and opens again, which waits for the rotation's end

The lock is the event both ways: a holder looks at it only when it uses the store anyway (one
system call), a waiting open is woken by the kernel when the rotation lets go, and a rotation
killed at any point lets go with its process. A holder that is idle holds nothing: the writer
and the dashboard close a connection unused for ``IDLE_RELEASE_S``.

Where the lock file cannot be made (a read-only ``AICO_HOME``), there is no gate; nothing can
re-key a store there either.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from aico.errors import StoreError

IDLE_RELEASE_S = 2.0  # a long-lived connection unused this long is closed, so a rotation never waits on it long
RETRY_S = 0.05  # while a rotation waits for the lock or for connections to close


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".rekey-lock")


def _open(db_path: Path) -> int | None:
    try:
        return os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return None  # a read-only home: nothing re-keys the store there


def pending(db_path: Path) -> bool:
    """Whether a rotation holds (or waits to hold) the store now: a holder should close its connection."""
    fd = _open(db_path)
    if fd is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock
    return False


@contextlib.contextmanager
def entering(db_path: Path) -> Iterator[None]:
    """Held while an open reads the key and connects; waits for a rotation under way to end."""
    fd = _open(db_path)
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        if fd is not None:
            os.close(fd)


@contextlib.contextmanager
def rotating(db_path: Path, wait_s: float) -> Iterator[float]:
    """Held by a rotation; yields the deadline (``time.monotonic``) by which the store must be had.

    Openers hold the lock only while they connect, so it is had at once unless another rotation
    runs: then, after ``wait_s``, ``StoreError``.
    """
    deadline = time.monotonic() + wait_s
    fd = _open(db_path)
    if fd is None:
        raise StoreError(f"cannot make {lock_path(db_path)}: the store's folder is read-only")
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(f"another key rotation held the store for {wait_s:.0f} s: "
                                     "let it finish, then rotate again") from None
                time.sleep(RETRY_S)
        yield deadline
    finally:
        os.close(fd)
