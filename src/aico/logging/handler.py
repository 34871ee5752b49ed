"""``AicoHandler``: the stdlib ``logging`` handler that ships records to the bus."""

from __future__ import annotations

import logging
from typing import Protocol

from aico import recursion_guard as guard
from aico.logging.fields import build
from aico.schema.record import Record
from aico.stderr import say


class Sink(Protocol):
    def offer(self, record: Record) -> bool: ...
    def count_drop(self, reason: str) -> None: ...
    def flush(self, timeout: float | None = None) -> bool: ...


class AicoHandler(logging.Handler):
    """Builds the schema record in the caller's thread and hands it to the producer.

    Never raises into the application and never waits for the bus. Records emitted by
    logging infrastructure (or while this handler is already emitting on this thread) are
    not shipped: they go to stderr, so logging can never loop through itself.
    """

    def __init__(self, sink: Sink, *, subsystem: str, origin: str, environment: str,
                 max_message_bytes: int, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.sink = sink
        self.subsystem = subsystem
        self.origin = origin
        self.environment = environment
        self.max_message_bytes = max_message_bytes

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: emit is thread-safe, and the lock would serialise every caller.
        rv = self.filter(record)
        if rv:
            self.emit(record if isinstance(rv, bool) else rv)
        return bool(rv)

    def emit(self, record: logging.LogRecord) -> None:
        if guard.active():
            self._not_shipped(record)
            return
        with guard.infrastructure_thread():
            try:
                built = build(record, subsystem=self.subsystem, origin=self.origin,
                              environment=self.environment, max_message_bytes=self.max_message_bytes)
            except Exception:  # noqa: BLE001 - never into the application: counted
                self.sink.count_drop("build_error")
                return
            try:
                self.sink.offer(built)
            except Exception:  # noqa: BLE001 - never into the application: counted
                self.sink.count_drop("sink_error")

    def _not_shipped(self, record: logging.LogRecord) -> None:
        self.sink.count_drop("recursion")
        if record.levelno >= logging.WARNING:
            try:
                message = record.getMessage()
            except Exception as exc:  # noqa: BLE001 - a bad format string: said as it came
                message = f"{record.msg!r} (formatting with {record.args!r} failed: {exc})"
            say(f"{record.levelname} {record.name}: {message}",
                prefix="[aico logging: not shipped, logged from logging code]")

    def flush(self) -> None:
        try:
            self.sink.flush()
        except Exception as exc:  # noqa: BLE001 - logging.shutdown calls this: never raises, told
            say(f"flush failed: {type(exc).__name__}: {exc}")
