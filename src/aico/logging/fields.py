"""From a stdlib ``LogRecord`` to a record of the schema, in the caller's thread.

Call site (module, function, file, line), ``extra=`` fields, ``exc_info`` as
``error_details``, and the ids of ``log_context`` are all captured here, while they are
still true.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from typing import Any

from aico.logging.context import current
from aico.schema.jsondepth import DEPTH_MESSAGE, MAX_JSON_DEPTH, too_deep
from aico.schema.levels import stdlib_to_level
from aico.schema.record import Record

# Attributes every LogRecord has: anything else on a record came from ``extra=``.
STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
# Schema fields an ``extra=`` may set (the spec's example sets module, function, topic).
OVERRIDABLE = ("subsystem", "module", "function", "topic", "file", "line", "trace_id", "session_id",
               "user_id", "severity", "origin", "environment")
COLLISIONS = "_aico_collisions"  # extra keys that clash with LogRecord attributes (see adapter.py)
INTERNAL = frozenset({COLLISIONS, "_aico_subsystem", "_aico_module", "_aico_shipped"})


def utc_text(created: float) -> str:
    seconds = int(created)
    micros = round((created - seconds) * 1_000_000)
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def error_details(record: logging.LogRecord) -> str | None:
    exc = record.exc_info
    if not isinstance(exc, tuple) or exc[0] is None:  # a record made by hand may say True
        if record.stack_info:
            return json.dumps({"type": "Stack", "message": "", "stack": record.stack_info}, ensure_ascii=False)
        return None
    etype, value, tb = exc
    stack = "".join(traceback.format_exception(etype, value, tb))
    if record.stack_info:
        stack += "\n" + record.stack_info
    return json.dumps({"type": getattr(etype, "__qualname__", str(etype)), "message": str(value), "stack": stack},
                      ensure_ascii=False)


def _truncate(message: str, limit: int) -> str:
    if len(message) * 4 <= limit:
        return message
    data = message.encode("utf-8")
    if len(data) <= limit:
        return message
    marker = f"... [truncated {len(data) - limit + 64} bytes]"
    return data[: limit - 64].decode("utf-8", "ignore") + marker


def _extra_text(extra: dict[str, Any]) -> str:
    """``extra`` as JSON; one too deep or circular to store is replaced by a note, so the record still goes."""
    try:
        text = json.dumps(extra, ensure_ascii=False, default=repr, separators=(",", ":"))
    except (ValueError, RecursionError) as exc:  # a circular value, or past the interpreter's depth
        problem = DEPTH_MESSAGE if isinstance(exc, RecursionError) else str(exc)
    else:
        if not too_deep(text, MAX_JSON_DEPTH):
            return text
        problem = DEPTH_MESSAGE
    return json.dumps({"extra_error": problem, "extra_keys": [str(k) for k in extra]}, ensure_ascii=False)


def build(record: logging.LogRecord, *, subsystem: str, origin: str, environment: str,
          max_message_bytes: int) -> Record:
    """The schema record for ``record``."""
    attrs = record.__dict__
    extra: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    for key, value in attrs.items():
        if key in STANDARD_ATTRS or key in INTERNAL:
            continue
        if key in OVERRIDABLE:
            overrides[key] = value
        else:
            extra[key] = value
    for key, value in (attrs.get(COLLISIONS) or {}).items():
        if key in OVERRIDABLE:
            overrides[key] = value
        else:
            extra[key] = value
    trace_id, session_id, user_id = current()
    logger_name = record.name if record.name != "root" else record.module
    try:
        message = record.getMessage()
    except Exception as exc:  # noqa: BLE001 - a bad format string must not lose the record: the failure is in it
        message = f"{record.msg!r} (formatting with {record.args!r} failed: {exc})"
    out: Record = {
        "timestamp": utc_text(record.created),
        "level": stdlib_to_level(record.levelno),
        "subsystem": attrs.get("_aico_subsystem") or subsystem,
        "module": attrs.get("_aico_module") or logger_name,
        "function": record.funcName or "<unknown>",
        "file": record.pathname,
        "line": record.lineno,
        "topic": logger_name,
        "message": _truncate(message, max_message_bytes),
        "user_id": user_id,
        "trace_id": trace_id,
        "session_id": session_id,
        "error_details": error_details(record),
        "extra": _extra_text(extra) if extra else None,
        "severity": None,
        "origin": origin,
        "environment": environment,
    }
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "line":
            out[key] = value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else out[key]
        else:
            out[key] = str(value)
    return out
