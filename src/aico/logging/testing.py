"""Assert on what your code logged: ``with capture_logs() as records: ...``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from aico.logging.adapter import make_all_safe
from aico.logging.handler import AicoHandler
from aico.schema.record import Record


class _Capture:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.dropped: dict[str, int] = {}

    def offer(self, record: Record) -> bool:
        self.records.append(record)
        return True

    def count_drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def flush(self, timeout: float | None = None) -> bool:
        return True


@contextmanager
def capture_logs(level: int = logging.DEBUG, subsystem: str = "test") -> Iterator[list[Record]]:
    """Collect the schema records logged inside the block (nothing is sent anywhere)."""
    capture = _Capture()
    handler = AicoHandler(capture, subsystem=subsystem, origin="backend", environment="test",
                          max_message_bytes=65536)
    root = logging.getLogger()
    old_level = root.level
    make_all_safe()
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield capture.records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
