"""The child-process helper: spawn, ready handshake, stop with a grace period then kill, restart backoff."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from aico.backend.child import Backoff, Child, ParentWatch, close_stream

#: A child that ignores SIGINT and the end of its stdin, says ready, then waits for ever.
STUBBORN = "import signal, sys, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('ready', flush=True)\n" \
           "while True: time.sleep(1)"


@pytest.fixture
def spawn() -> Iterator[Callable[[str], Child]]:
    """Start ``python -c code`` as a Child; killed and its pipes closed after the test."""
    children: list[Child] = []

    def start(code: str) -> Child:
        children.append(Child.spawn([sys.executable, "-c", code], label="test child", stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True))
        return children[-1]

    yield start
    for child in children:
        child.kill()
        close_stream(child.proc.stdin)
        close_stream(child.proc.stdout)


def test_stop_asks_first_and_a_child_that_obeys_keeps_its_code(spawn: Callable[[str], Child]) -> None:
    """A child that leaves when asked (end of stdin) stops within the grace period with its own exit code."""
    child = spawn("import sys\nsys.stdin.read()\nsys.exit(7)")
    assert child.alive()
    assert child.stop(30, ask=lambda: child.proc.stdin.close()) == 7  # type: ignore[union-attr]
    assert not child.alive()


def test_a_child_that_ignores_the_signal_is_killed_after_the_grace(spawn: Callable[[str], Child],
                                                                  capfd: pytest.CaptureFixture[str]) -> None:
    """SIGINT ignored: after the grace period the child is killed, and the backend's stderr says so."""
    child = spawn(STUBBORN)
    assert child.wait_ready(lambda _: child.proc.stdout.readline() == "ready\n", 30)  # type: ignore[union-attr]
    assert child.stop(0.5, ask=signal.SIGINT) == -signal.SIGKILL
    assert "the test child process did not stop within 0 s: killed" in capfd.readouterr().err


def test_waiting_for_ready_ends_when_the_child_dies(spawn: Callable[[str], Child]) -> None:
    """A child that exits before it says ready is reported at once, not after the whole timeout."""
    child = spawn("raise SystemExit(3)")

    def never_ready(seconds: float) -> bool:
        child.wait(seconds)  # as a channel's poll would: wait up to that long, then say "not yet"
        return False

    clock = time.monotonic()
    assert child.wait_ready(never_ready, 60) is False
    assert time.monotonic() - clock < 30 and child.exit_code() == 3


def test_backoff_grows_with_quick_exits_and_starts_over_after_a_steady_run() -> None:
    """Quick exits in a row wait longer each time (up to the last delay); a steady run resets the sequence."""
    backoff = Backoff((1.0, 2.0, 5.0), steady_s=60)
    assert [backoff.next(0.5) for _ in range(4)] == [1.0, 2.0, 5.0, 5.0]
    assert backoff.next(61) == 1.0


def test_the_parent_is_there_while_it_runs() -> None:
    """ParentWatch sees the same parent for as long as it lives."""
    assert not ParentWatch().gone()
