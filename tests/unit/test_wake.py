"""Waking on events: the bell, a process's exit as a descriptor, and the producer's sender that
sleeps while there is nothing to do and wakes at once when a record is offered."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_producer import make_settings, rec, sent_seqs, start

from aico.logging import sender
from aico.logging.transport import MemoryTransport
from aico.schema.acks import encode_ack
from aico.wake import Bell, exit_fd, parent_exit_fd

from support import wait_until


def test_a_rung_bell_wakes_its_waiter_once() -> None:
    """wait() returns True when rung (however many rings), then False on a timeout of zero."""
    bell = Bell()
    bell.ring()
    bell.ring()
    assert bell.wait(5) is True
    assert bell.wait(0) is False
    bell.close()


def test_a_closed_bell_ignores_rings() -> None:
    """Ringing a closed bell does nothing (never writes to a descriptor closed and reused)."""
    bell = Bell()
    bell.close()
    bell.ring()
    bell.close()


def test_a_bell_rung_from_another_thread_ends_a_long_wait() -> None:
    """A thread sleeping an hour on the bell wakes when another thread rings it."""
    bell = Bell()
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(bell.wait(3600)))
    waiter.start()
    bell.ring()
    waiter.join(30)
    assert woke == [True]
    bell.close()


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="no pidfd on this system")
def test_exit_fd_becomes_readable_when_the_process_exits() -> None:
    """A child's exit descriptor is not readable while it runs and is once it has exited."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    fd = exit_fd(child.pid)
    assert fd is not None
    assert select.select([fd], [], [], 0)[0] == []
    assert child.stdin is not None
    child.stdin.close()
    assert select.select([fd], [], [], 30)[0] == [fd]
    child.wait(30)
    os.close(fd)


def test_parent_exit_fd_is_none_for_a_parent_that_is_not_ours() -> None:
    """parent_exit_fd names a parent that already went (not our parent any more): None."""
    assert parent_exit_fd(os.getppid() + 1 if os.getppid() != 1 else 2) is None


class SleepyTransport(MemoryTransport):
    """A memory transport whose idle sleep really sleeps on the bell, and says how long it was asked to."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    def sleep(self, bell: Bell, timeout_s: float) -> list[bytes]:
        self.sleeps.append(timeout_s)
        bell.wait(timeout_s)
        return self.wait_acks(0)


def test_the_idle_sender_sleeps_long_and_an_offer_wakes_it(tmp_path: Path) -> None:
    """With nothing to do the sender sleeps IDLE_WAIT_S at a time, and a record offered meanwhile is sent."""
    t = SleepyTransport()
    p = start(make_settings(tmp_path), t)
    wait_until(lambda: t.sleeps, message="the sender to go to sleep")
    assert set(t.sleeps) == {sender.IDLE_WAIT_S}
    p.offer(rec(1))
    wait_until(lambda: len(sent_seqs(t)) == 1, message="the record offered while the sender slept to be sent")
    t.ack(encode_ack(p.producer_id, [1]))
    p.offer(rec(2))  # rings again; the ack of 1 is read beside it
    wait_until(lambda: len(sent_seqs(t)) == 2, message="the second record")
    t.ack(encode_ack(p.producer_id, [2]))
    assert p.flush(10)
    assert p.close(5)


GRANDCHILD = """
import sys, zmq
from aico.backend.child import ParentWatch
watch = ParentWatch()
sock = zmq.Context().socket(zmq.PAIR)
sock.bind("inproc://nothing")
print("watching", watch.fd is not None, flush=True)
while True:
    if not watch.poll(sock, fallback_s=0.05) and watch.gone():
        print("gone", flush=True)
        break
"""

MIDDLE = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=sys.stdout)
print(child.pid, flush=True)
sys.stdin.read()
"""


def test_a_child_notices_its_parent_is_gone_without_a_timer() -> None:
    """A process waiting on ParentWatch.poll wakes when its parent dies (on its pidfd where there is one)."""
    with subprocess.Popen([sys.executable, "-c", MIDDLE, GRANDCHILD], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as middle:
        assert middle.stdout is not None
        middle.stdout.readline()  # the grandchild's pid
        assert middle.stdout.readline().startswith("watching")
        middle.kill()
        middle.wait(30)
        assert middle.stdout.readline().strip() == "gone"
