"""How long a record takes to show in a real ``aico logs tail -f``, for ``bench/query.py``.

Two paths, each measured with the follower as its own process reading the benchmark's store:
  store      a record committed by a writer in this process -> printed by tail -f
  logging    ``logging.warning(...)`` in this process -> aico.logging -> bus -> collector (a real
             ``aico backend start``) -> store -> printed by tail -f: the whole road
Each probe carries its number; the time it is printed is taken when its line arrives on the pipe.
Probes are spaced at random (50 to 250 ms) so they do not fall in step with the follower's polling.
"""

from __future__ import annotations

import json
import queue
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable

from benchenv import BIN


class Follower:
    """``aico logs tail -f`` as a child process; each line is stamped when it arrives."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen([str(BIN / "aico"), "logs", "tail", "-f", "-n", "0", "-o", "jsonl", *args],
                                     env=env, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines: queue.Queue[tuple[float, dict]] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.time(), json.loads(line)))

    def next(self, timeout: float) -> tuple[float, dict]:
        return self.lines.get(timeout=timeout)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)


def measure(follower: Follower, emit: Callable[[str], None], samples: int, seed: int = 3) -> list[float]:
    """Delays in seconds from ``emit(message)`` to the follower printing it, one probe at a time."""
    rng = random.Random(seed)
    # Until the follower prints something, it may not have read where the store ends: warm up.
    deadline = time.monotonic() + 60
    while True:
        emit("tail probe warmup")
        try:
            follower.next(timeout=1.0)
            break
        except queue.Empty:
            if time.monotonic() > deadline:
                raise RuntimeError("tail -f printed nothing within 60 s") from None
    while not follower.lines.empty():
        follower.lines.get()
    delays = []
    for k in range(samples):
        time.sleep(rng.uniform(0.05, 0.25))  # the benchmark spaces its probes; no test waits like this
        sent = time.time()
        emit(f"tail probe {k}")
        while True:
            arrived, row = follower.next(timeout=30)
            if row["message"] == f"tail probe {k}":
                delays.append(arrived - sent)
                break
    return delays
