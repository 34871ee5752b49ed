"""Waking a sleeping thread or process on an event instead of a short timer.

An idle backend used 1.7% of a core on threads that woke every 20 to 100 ms to look whether
there was work (a queue, a stop flag, a child process, the parent). Here are the pieces that
let them sleep until something happens:

    Bell            a pipe another thread rings (a record offered, a stop asked); its file
                    descriptor goes into a ``select`` or a ZeroMQ poller beside the sockets
    exit_fd         a descriptor that becomes readable when a given process exits (a pidfd)
    parent_exit_fd  the same for this process's parent: a child notices its parent is gone

A neutral module (like ``stderr.py``): the logger library, the collector and the children use it.
"""

from __future__ import annotations

import os
import select
import threading


class Bell:
    """A self-pipe: ``ring`` from any thread, never blocking; ``wait`` sleeps until rung or timed out.

    ``armed`` says the owner is about to sleep: a ringer checks it first, so the common case
    (the owner awake and busy) costs one attribute read and no system call.
    """

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        self.armed = False
        self._closing = threading.Lock()  # a ring never writes to a descriptor closed (and reused) meanwhile
        self._closed = False

    @property
    def fd(self) -> int:
        return self._r

    def ring(self) -> None:
        with self._closing:
            if self._closed:
                return
            try:
                os.write(self._w, b"\0")
            except OSError:  # full: rung already
                pass

    def clear(self) -> None:
        try:
            while os.read(self._r, 4096):
                pass
        except OSError:  # empty (BlockingIOError) or closed
            pass

    def wait(self, timeout: float | None) -> bool:
        """Sleep until rung (True) or ``timeout`` seconds pass (False); clears what was rung."""
        try:
            readable, _, _ = select.select([self._r], [], [], timeout)
        except (OSError, ValueError):  # closed meanwhile
            return True
        self.clear()
        return bool(readable)

    def close(self) -> None:
        """Close the pipe (by its owner, once it no longer waits); a later ring does nothing."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
            self.armed = False
            for fd in (self._r, self._w):
                os.close(fd)


def exit_fd(pid: int) -> int | None:
    """A descriptor readable once process ``pid`` has exited (Linux pidfd); None where there is none."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:  # an old kernel, or the process is already gone and reaped
        return None
    return fd


def parent_exit_fd(parent: int) -> int | None:
    """``exit_fd`` of ``parent``, which started this process; None if it is gone already or there is
    no pidfd (the caller then looks at ``os.getppid()`` on a timer instead)."""
    fd = exit_fd(parent)
    if fd is not None and os.getppid() != parent:  # it died before the pidfd was opened
        os.close(fd)
        return None
    return fd
