"""`aico logs tail -f` as a real process: filtered records appear as another process stores them."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time

import pytest

from aico.config import Settings
from aico.schema import normalize
from aico.store import LogStore

from support import AICO, stamp

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)


def record(message: str, level: str = "ERROR", module: str = "svc.worker") -> dict:
    return normalize({"timestamp": stamp(), "level": level, "module": module, "function": "run",
                      "topic": "t", "message": message})


class Lines:
    """A child's stdout, line by line, read on a thread so the test can wait with a deadline."""

    def __init__(self, stream: object) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.queue.put(line)

    def take(self, n: int, timeout: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        got = []
        while len(got) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {n} lines from tail -f; got {got}")
            try:
                got.append(json.loads(self.queue.get(timeout=remaining)))
            except queue.Empty:
                continue
        return got


@pytest.mark.e2e
def test_follow_prints_new_matching_records_and_stops_cleanly(env: dict[str, str], settings: Settings) -> None:
    """tail -f -p error --module svc prints the last match, then each new match, and Ctrl-C ends it quietly."""
    with LogStore.open(settings, writer=True) as store:
        store.insert_batch([record("old error"), record("old info", level="INFO")])
        proc = subprocess.Popen([AICO, "logs", "tail", "-f", "-n", "1", "-p", "error", "--module", "svc",
                                 "-o", "jsonl"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            lines = Lines(proc.stdout)
            assert [r["message"] for r in lines.take(1)] == ["old error"]  # it has read the store: now follow
            for i in range(3):
                store.insert_batch([
                    record(f"new info {i}", level="INFO"),
                    record(f"other module {i}", module="ui.chat"),
                    record(f"new error {i}"),
                    record(f"new critical {i}", level="CRITICAL"),
                ])
            got = lines.take(6)
            expected = [f"new {kind} {i}" for i in range(3) for kind in ("error", "critical")]
            assert [r["message"] for r in got] == expected
            assert lines.queue.empty()
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(30)
            err = proc.stderr.read() if proc.stderr else ""
            if proc.stdout:
                proc.stdout.close()
            if proc.stderr:
                proc.stderr.close()
    assert code in (0, 130)
    assert "Traceback" not in err
