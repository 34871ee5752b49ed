"""The library's process-wide state: one producer and one handler per process."""

from __future__ import annotations

import atexit
import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aico.config import Settings, load_settings
from aico.logging.adapter import AicoLoggerAdapter, make_all_safe
from aico.logging.handler import AicoHandler
from aico.logging.producer import Producer

_lock = threading.Lock()
_handler: AicoHandler | None = None
_producer: Producer | None = None


def program_name() -> str:
    stem = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] not in ("", "-c", "-m") else "python"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or "python"


def install(settings: Settings | None = None, *, level: str | int | None = None,
            subsystem: str | None = None, name: str | None = None) -> AicoHandler:
    """Ship every stdlib ``logging`` record of this process; idempotent.

    ``subsystem`` defaults to ``core.logging.subsystem``, else the program's name. ``name``
    names the spool (default: the subsystem). The root level is set from ``level``, else
    ``core.logging.level``.
    """
    global _handler, _producer
    with _lock:
        if _handler is not None:
            return _handler
        settings = settings or load_settings()
        cfg = settings.core.logging
        subsystem = subsystem or cfg.subsystem or program_name()
        producer = Producer(settings, name=name or subsystem, subsystem=subsystem).start()
        handler = AicoHandler(producer, subsystem=subsystem, origin=cfg.origin, environment=cfg.environment,
                              max_message_bytes=cfg.max_message_bytes)
        make_all_safe()
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(level if level is not None else cfg.level.upper())
        _handler, _producer = handler, producer
        atexit.register(_at_exit, producer, cfg.producer.flush_timeout_s)
        return handler


@contextmanager
def swapped_handler(handler: AicoHandler) -> Iterator[None]:
    """``handler`` is the installed one for the block (``testing.capture_logs``); then the old one again."""
    global _handler
    with _lock:
        old, _handler = _handler, handler
    try:
        yield
    finally:
        with _lock:
            _handler = old


def _at_exit(producer: Producer, timeout: float) -> None:
    producer.close(timeout)


def uninstall(timeout: float | None = None) -> bool:
    """Detach from the root logger and close the producer (flushing within ``timeout``)."""
    global _handler, _producer
    with _lock:
        handler, producer = _handler, _producer
        _handler = _producer = None
    if handler is not None:
        logging.getLogger().removeHandler(handler)
    return producer.close(timeout) if producer is not None else True


def get_logger(subsystem: str, module: str) -> AicoLoggerAdapter:
    """A logger whose records carry ``subsystem`` and ``module`` (installs the library if needed)."""
    install()
    return AicoLoggerAdapter(logging.getLogger(f"{subsystem}.{module}"), subsystem, module)


def flush(timeout: float | None = None) -> bool:
    """Wait until everything logged so far is stored (acknowledged); True if it is."""
    return _producer.flush(timeout) if _producer is not None else True


def stats() -> dict[str, Any]:
    """This process's producer figures: produced, sent, acknowledged, resent, spooled, dropped."""
    return _producer.snapshot() if _producer is not None else {}


def producer() -> Producer | None:
    return _producer
