"""The store's size on disk: the one figure status, retention and the CLI show and compare."""

from __future__ import annotations

import os
from pathlib import Path


def size_on_disk(path: Path) -> int:
    """Bytes of a database file, its WAL and shared-memory index, as the disk holds them."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += os.path.getsize(f"{path}{suffix}")
        except FileNotFoundError:
            pass
    return total
