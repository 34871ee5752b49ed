"""Giving memory back to the system, where the C library allows it (glibc).

After a burst of records the collector and the store writer hold freed memory that glibc keeps
for reuse: an idle backend stayed ~30% above its idle size for good. ``trim`` hands the free
part back (``malloc_trim``), called once when a burst ends, never on a timer. ``few_arenas`` caps
glibc's per-thread arenas at two (``MALLOC_ARENA_MAX``): each thread that allocates would
otherwise get an arena of its own, and memory freed in one is not reused by another.
Elsewhere (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h
ARENAS = 2

_libc: Any = None


def _glibc() -> Any:
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _libc = libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else False
        except OSError:
            _libc = False
    return _libc


def few_arenas() -> None:
    """Cap malloc arenas for the threads this process starts from now on."""
    libc = _glibc()
    if libc:
        libc.mallopt(M_ARENA_MAX, ARENAS)


def trim() -> None:
    """Hand freed heap memory back to the system (after a burst, not in a loop)."""
    libc = _glibc()
    if libc:
        libc.malloc_trim(0)


def child_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a child process, with the arena cap unless the user set one."""
    return {"MALLOC_ARENA_MAX": str(ARENAS), **env}
