"""The recursion guard: logging code never logs through itself.

A thread inside the logging machinery (the sender, the consumer, the broker, or any thread
while it is inside ``AicoHandler.emit``) is marked; records emitted from a marked thread
are not shipped, they go to stderr (WARNING and above) so nothing loops. It lives beside
``stderr.py``, outside the logger library, because every layer marks its threads with it (the
logger's handler and sender, the collector, the bridge, the plugins) and none should import
another layer's package for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_state = threading.local()


def active() -> bool:
    return getattr(_state, "depth", 0) > 0


@contextmanager
def infrastructure_thread() -> Iterator[None]:
    """Mark the current thread as logging infrastructure for the duration of the block."""
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        _state.depth -= 1
