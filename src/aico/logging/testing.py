"""Assert on what your code logged: ``with capture_logs() as records: ...``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from aico.logging import api
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
    """Collect the schema records logged inside the block; nothing is shipped while it runs.

    For the block, the root logger's shipping handlers (``install()``'s among them) are set
    aside and the library's installed handler is the capture, so stdlib, structlog and loguru
    records all land here and ``install()`` starts no producer. Everything is put back after:
    the shipping handlers (in their place), the installed handler and the root level.
    """
    capture = _Capture()
    handler = AicoHandler(capture, subsystem=subsystem, origin="backend", environment="test",
                          max_message_bytes=65536)
    root = logging.getLogger()
    old_level = root.level
    before = list(root.handlers)
    set_aside = [h for h in before if isinstance(h, AicoHandler)]
    make_all_safe()
    with api.swapped_handler(handler):
        for shipping in set_aside:
            root.removeHandler(shipping)
        root.addHandler(handler)
        root.setLevel(level)
        try:
            yield capture.records
        finally:
            root.removeHandler(handler)
            now = list(root.handlers)  # in their old order; what the block added or removed stays so
            root.handlers[:] = [h for h in before if h in now or h in set_aside] + [h for h in now if h not in before]
            root.setLevel(old_level)
