"""Helpers for the fault campaign: a small tmpfs to fill or make read-only, processes found by name, seeds."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from proctree import children


def campaign_seed() -> int:
    """The seed of this run: ``AICO_FAULT_SEED`` to replay one, else a fresh one (printed, so a failure names it)."""
    seed = int(os.environ.get("AICO_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    print(f"fault campaign seed: AICO_FAULT_SEED={seed}")
    return seed


def rounds(default: int = 1) -> int:
    """How many seeded points each kill case tries (``AICO_FAULT_ROUNDS``; CI keeps the default)."""
    return int(os.environ.get("AICO_FAULT_ROUNDS") or default)


class Tmpfs:
    """A tmpfs of ``size_kb`` mounted at ``path``: fill it (ENOSPC) or remount it read-only (EROFS)."""

    def __init__(self, path: Path, size_kb: int) -> None:
        self.path = path
        self.size_kb = size_kb

    def _mount(self, *args: str) -> None:
        done = subprocess.run(["mount", *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip() or f"mount {' '.join(args)} failed")

    def mount(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self._mount("-t", "tmpfs", "-o", f"size={self.size_kb}k,mode=0700", "tmpfs", str(self.path))

    def resize(self, size_kb: int) -> None:
        """Give the disk room again (or take it away)."""
        self.size_kb = size_kb
        self._mount("-o", f"remount,size={size_kb}k", str(self.path))

    def read_only(self, on: bool = True) -> None:
        self._mount("-o", f"remount,{'ro' if on else 'rw'}", str(self.path))

    def fill(self) -> Path:
        """Take every free byte with a ballast file (its removal frees the disk)."""
        ballast = self.path / "ballast"
        try:
            with ballast.open("ab") as fh:
                while True:
                    fh.write(b"\0" * 4096)
                    fh.flush()
        except OSError:
            pass
        return ballast

    def free(self) -> int:
        return shutil.disk_usage(self.path).free

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@contextmanager
def tmpfs(path: Path, size_kb: int) -> Iterator[Tmpfs]:
    """A small tmpfs for the block; the test skips, saying why, where mounting is impossible (not root)."""
    fs = Tmpfs(path, size_kb)
    try:
        fs.mount()
    except (RuntimeError, FileNotFoundError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount(8)): {exc}")
    try:
        yield fs
    finally:
        fs.unmount()


def child_pid(pid: int, marker: str) -> int | None:
    """The pid of the descendant of ``pid`` whose command line holds ``marker`` (None if there is none)."""
    for kid, cmd in children(pid):
        if marker in cmd:
            return kid
    return None
