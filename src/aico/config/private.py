"""Private on disk: ``AICO_HOME`` and everything under it is the user's alone (folders 0700, files 0600).

Every place that makes a folder or a file under the home goes through here, whatever the
umask: ``private_dir`` makes missing folders 0700 (each level, not only the last),
``private_open`` is an ``opener`` that creates files 0600. The processes of the system itself
(the CLI, the backend and its children) also run with umask 077, so files made by libraries
(libSQL, DuckDB) are private as well; the logger library never changes an application's umask.

``tighten`` closes, at the backend's start, what it finds more open under the home, and says so
once on stderr.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077


def private_dir(path: Path) -> Path:
    """``path`` as a folder, each missing level made 0700 whatever the umask."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)  # the umask may have taken bits off, never added: this is exact
    return path


def private_open(path: str, flags: int) -> int:
    """An ``opener`` for ``open()``: a file it creates is 0600 whatever the umask."""
    return os.open(path, flags, FILE_MODE)


def private_umask() -> int:
    """Make this process's new files private (for the system's own processes); the umask it had."""
    return os.umask(UMASK)


def tighten(home: Path) -> list[Path]:
    """Folders under ``home`` (and itself) open to others made 0700, files 0600; the paths changed."""
    changed: list[Path] = []
    if not home.is_dir():
        return changed
    for root, dirs, files in os.walk(home):
        for name in [".", *dirs, *files]:
            path = Path(root) / name if name != "." else Path(root)
            try:
                st = path.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            want = DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE
            if stat.S_IMODE(st.st_mode) & ~want & 0o777:
                try:
                    os.chmod(path, stat.S_IMODE(st.st_mode) & want)
                except OSError:
                    continue
                changed.append(path)
    return changed


def tighten_and_say(home: Path) -> None:
    """``tighten`` the home, and say once on stderr what was found open (and now is not)."""
    changed = tighten(home)
    if changed:
        shown = ", ".join(str(p) for p in changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        sys.stderr.write(f"aico: {len(changed)} folders or files under {home} were open to other users and are "
                         f"now private (folders 0700, files 0600): {shown}\n")


def fsync_path(path: Path) -> None:
    """Hand a file's data, or a folder's entries, to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
