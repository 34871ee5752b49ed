"""Correlation ids carried by contextvars: they follow the code across threads' tasks and awaits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_trace_id: ContextVar[str | None] = ContextVar("aico_trace_id", default=None)
_session_id: ContextVar[str | None] = ContextVar("aico_session_id", default=None)
_user_id: ContextVar[str | None] = ContextVar("aico_user_id", default=None)


@contextmanager
def log_context(*, trace_id: str | None = None, session_id: str | None = None,
                user_id: str | None = None) -> Iterator[None]:
    """Stamp every record logged inside the block with these ids (None keeps the outer value)."""
    tokens = []
    for var, value in ((_trace_id, trace_id), (_session_id, session_id), (_user_id, user_id)):
        if value is not None:
            tokens.append((var, var.set(str(value))))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current() -> tuple[str | None, str | None, str | None]:
    """(trace_id, session_id, user_id) in force here."""
    return _trace_id.get(), _session_id.get(), _user_id.get()
