"""Child processes: spawn, wait for ready, notice a dead parent, stop (grace then kill), restart with backoff.

Four parts run work in a process of their own, each on its own channel:

    the store writer     (collector/writer_client.py)  ZeroMQ PAIR; says ``[S, ready]`` once; stops on ``[Q]``
    the bridge, the dashboard (bridge/plugin.py)        stdin/stdout JSON lines; says ``{"ready": ...}``; stops
                                                        at end of file on stdin; restarted when it exits
    an analytics run     (analytics/plugin.py)          ``aico analytics etl --json``; stops on SIGINT
    the ETL's reader     (analytics/source.py)          a socket pair; stops when its peer closes

What they share is here: ``Child`` starts one and stops it (ask, wait a grace period, then
kill); ``Child.wait_ready`` waits for the child's own ready message without outliving the
child; ``ParentWatch`` lets a child notice its parent is gone, on the parent's exit descriptor
where there is one (the others read end of file on a pipe or socket from the parent, which the
kernel gives when the parent dies);
``Backoff`` says how long to wait before starting a crashed child again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from aico import stderr
from aico.backend.memory import child_env
from aico.wake import parent_exit_fd

KILL_WAIT_S = 10.0  # after SIGKILL: the kernel's part, never long
READY_SLICE_S = 0.2  # how often a wait for ready looks whether the child is still there
POLL_FALLBACK_S = 1.0  # without a pidfd, how often a child looks whether its parent is gone


def say(label: str, message: str) -> None:
    """A line on the backend's stderr about a child: ``[aico bridge] ...``."""
    stderr.say(message, prefix=f"[aico {label}]")


def close_stream(stream: IO[Any] | None) -> None:
    if stream is not None:
        try:
            stream.close()
        except OSError:
            pass


class Child:
    """One child process. ``spawn`` starts it; ``stop`` asks it to go, waits, then kills it."""

    def __init__(self, proc: subprocess.Popen[Any], label: str) -> None:
        self.proc = proc
        self.label = label
        self.started = time.monotonic()

    @classmethod
    def spawn(cls, argv: Sequence[str], *, label: str, env: Mapping[str, str] | None = None,
              stdin: int | None = None, stdout: int | None = None, stderr: int | None = None, text: bool = False,
              pass_fds: Sequence[int] = (), new_session: bool = False) -> Child:
        """Start ``argv`` (``OSError`` when it cannot be started at all)."""
        proc: subprocess.Popen[Any] = subprocess.Popen(
            list(argv), env=child_env(dict(os.environ if env is None else env)), stdin=stdin, stdout=stdout,
            stderr=stderr, text=text, pass_fds=tuple(pass_fds), start_new_session=new_session)
        return cls(proc, label)

    @classmethod
    def python(cls, module: str, *args: str, label: str, **options: Any) -> Child:
        """``python -m module args...`` with this interpreter."""
        return cls.spawn([sys.executable, "-m", module, *args], label=label, **options)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exit_code(self) -> int | None:
        return self.proc.poll()

    def ran_for(self) -> float:
        return time.monotonic() - self.started

    def feed(self, data: bytes, *, close: bool = False) -> None:
        """Write ``data`` to the child's stdin (a child that died at once is seen by whoever waits on it)."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        if close:
            close_stream(self.proc.stdin)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, or None when the child is still running after ``timeout`` seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def wait_ready(self, ready: Callable[[float], bool], timeout: float) -> bool:
        """Wait until ``ready(seconds)`` (the child's own message, waited for at most that long) is true.

        False when the timeout passes or the child exits first: a child that dies at start is
        reported at once, not after the whole timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if ready(min(READY_SLICE_S, left)):
                return True
            if not self.alive():
                return ready(0)  # it may have said it just before it went

    def kill(self) -> int | None:
        if self.alive():
            self.proc.kill()
        return self.wait(KILL_WAIT_S)

    def stop(self, grace: float, ask: Callable[[], None] | int | None = None) -> int | None:
        """Ask the child to stop (call ``ask``, or send it that signal), wait ``grace`` seconds, then kill it."""
        if callable(ask):
            ask()
        elif ask is not None:
            try:
                self.proc.send_signal(ask)  # nothing once the child is reaped
            except ProcessLookupError:
                pass
        code = self.wait(grace)
        if code is None:
            say(self.label, f"the {self.label} process did not stop within {grace:.0f} s: killed")
            code = self.kill()
        return code


class ParentWatch:
    """In a child: whether the process that started it is gone (it is then adopted by another).

    Where the system has pidfds, the parent's exit makes a descriptor readable: ``poll`` sleeps
    on it beside the child's own socket instead of waking every second to look.
    """

    def __init__(self) -> None:
        self.parent = os.getppid()
        self.fd = parent_exit_fd(self.parent)
        self._poller: Any = None

    def gone(self) -> bool:
        return os.getppid() != self.parent

    def poll(self, sock: Any, fallback_s: float = POLL_FALLBACK_S) -> bool:
        """Wait until ZeroMQ socket ``sock`` is readable (True), or the parent may be gone (False:
        its exit descriptor is readable, or ``fallback_s`` passed where there is none)."""
        import zmq

        if self._poller is None:
            self._poller = zmq.Poller()
            self._poller.register(sock, zmq.POLLIN)
            if self.fd is not None:
                self._poller.register(self.fd, zmq.POLLIN)
        events = dict(self._poller.poll(None if self.fd is not None else int(fallback_s * 1000)))
        if self.fd is not None and events.get(self.fd) and not self.gone():  # never spin on it: the timer
            self._poller.unregister(self.fd)
            os.close(self.fd)
            self.fd = None
        return bool(events.get(sock))


class Backoff:
    """Delays before restarting a child that exits on its own: longer after each quick exit in a row.

    A child that ran ``steady_s`` or longer before it exited starts the sequence over.
    """

    def __init__(self, delays: Sequence[float], steady_s: float) -> None:
        self.delays = tuple(delays)
        self.steady_s = steady_s
        self.quick_exits = 0

    def next(self, ran_for: float) -> float:
        if ran_for > self.steady_s:
            self.quick_exits = 0
        delay = self.delays[min(self.quick_exits, len(self.delays) - 1)]
        self.quick_exits += 1
        return delay
