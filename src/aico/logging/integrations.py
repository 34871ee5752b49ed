"""structlog and loguru, shipped through the same producer as ``install()``.

    structlog.configure(processors=[structlog.processors.add_log_level, ...,
                                    aico.logging.structlog_processor(), structlog.dev.ConsoleRenderer()])
    loguru.logger.add(aico.logging.loguru_sink)

Both build the schema record in the caller's thread and offer it to this process's producer
(``install()`` is called on first use): never blocking, never raising, spooled and stored
exactly once, as stdlib records are. Neither library is imported here.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, MutableMapping
from datetime import datetime
from typing import Any

from aico import recursion_guard as guard
from aico.logging import api
from aico.logging.context import current
from aico.logging.fields import utc_text
from aico.schema.levels import LEVELS, stdlib_to_level
from aico.schema.record import Record, dumps
from aico.stderr import say

FIELDS = ("subsystem", "module", "function", "topic", "file", "line", "trace_id", "session_id", "user_id",
          "severity", "origin", "environment")  # event-dict or bound keys that set a record field
_STRUCTLOG_SKIP = frozenset({"event", "level", "timestamp", "logger", "logger_name", "exc_info", "exception",
                             "stack_info", "stack", "func_name", "pathname", "lineno", "filename", "module",
                             "_record", "_from_structlog"})
_METHOD_LEVELS = {"exception": "ERROR", "warn": "WARNING", "fatal": "CRITICAL", "msg": "INFO", "trace": "DEBUG"}
_OWN_FRAMES = ("structlog", "aico.logging", "loguru")


def _ship(build: Callable[[], Record | None]) -> None:
    """Build and offer a record; any failure is counted, never raised; logging code is not shipped."""
    if guard.active():
        return
    with guard.infrastructure_thread():
        try:
            handler = api.install()
        except Exception as exc:  # noqa: BLE001 - install() is not meant to raise: never into the app, told
            say(f"cannot install the logger: {type(exc).__name__}: {exc}; this record is not shipped")
            return
        sink = handler.sink
        try:
            record = build()
        except Exception:  # noqa: BLE001 - never into the application: counted
            sink.count_drop("build_error")
            return
        if record is None:
            return
        try:
            sink.offer(record)
        except Exception:  # noqa: BLE001 - never into the application: counted
            sink.count_drop("sink_error")


def _base(handler_defaults: Any, timestamp: str, level: str, message: str, **fields: Any) -> Record:
    trace_id, session_id, user_id = current()
    limit = handler_defaults.max_message_bytes
    if len(message) * 4 > limit and len(message.encode()) > limit:
        cut = message.encode()[: limit - 64].decode("utf-8", "ignore")
        message = f"{cut}... [truncated {len(message.encode()) - limit + 64} bytes]"
    record: Record = {
        "timestamp": timestamp, "level": level, "subsystem": handler_defaults.subsystem, "message": message,
        "function": "<unknown>", "file": None, "line": None, "user_id": user_id, "trace_id": trace_id,
        "session_id": session_id, "error_details": None, "extra": None, "severity": None,
        "origin": handler_defaults.origin, "environment": handler_defaults.environment,
    }
    record.update(fields)
    return record


def _apply(record: Record, values: MutableMapping[str, Any], skip: frozenset[str]) -> None:
    """Record fields named in ``values`` set their field; every other key goes to ``extra``."""
    extra: dict[str, Any] = {}
    for key, value in values.items():
        if key in skip:
            continue
        if key in FIELDS and value is not None:
            ok_line = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            if key != "line" or ok_line:
                record[key] = value if key == "line" else str(value)
        else:
            extra[key] = value
    if extra:
        record["extra"] = dumps(extra)


def _details(exc: BaseException | None, stack: str | None = None) -> str | None:
    if exc is None:
        return dumps({"type": "Stack", "message": "", "stack": stack}) if stack else None
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return dumps({"type": type(exc).__qualname__, "message": str(exc), "stack": text + (stack or "")})


# -- structlog -----------------------------------------------------------------------------------
def structlog_processor() -> Callable[[Any, str, MutableMapping[str, Any]], MutableMapping[str, Any]]:
    """A structlog processor that ships each event dict (with its bound context) and passes it on
    unchanged: put it before your renderer. The level is the event's ``level`` (from
    ``add_log_level``) or the method called; ``event`` is the message; ``logger`` (from
    ``add_logger_name``) the module; keys named like record fields (``topic``, ``trace_id`` ...)
    set them; ``exc_info`` becomes ``error_details``; every other key goes to ``extra``."""

    def ship_event(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        _ship(lambda: _from_structlog(method_name, event_dict))
        return event_dict

    return ship_event


def _from_structlog(method_name: str, event: MutableMapping[str, Any]) -> Record:
    handler = api.install()
    raw_level = str(event.get("level") or method_name).lower()
    level = _METHOD_LEVELS.get(raw_level) or (raw_level.upper() if raw_level.upper() in LEVELS else "INFO")
    frame = _caller()
    module = event.get("logger") or event.get("logger_name") or (frame[0] if frame else "structlog")
    record = _base(handler, _timestamp(event.get("timestamp")), level, _text(event.get("event", "")),
                   module=str(module), topic=str(module))
    if frame:
        record["function"], record["file"], record["line"] = frame[1], frame[2], frame[3]
    if event.get("func_name"):
        record["function"] = str(event["func_name"])
    if event.get("pathname"):
        record["file"] = str(event["pathname"])
    if isinstance(event.get("lineno"), int):
        record["line"] = event["lineno"]
    record["error_details"] = _structlog_error(method_name, event)
    _apply(record, event, _STRUCTLOG_SKIP)
    return record


def _structlog_error(method_name: str, event: MutableMapping[str, Any]) -> str | None:
    info = event.get("exc_info")
    if info is True or (info is None and method_name == "exception"):
        info = sys.exc_info()
    exc = info if isinstance(info, BaseException) else info[1] if isinstance(info, tuple) and len(info) == 3 else None
    if exc is not None:
        return _details(exc, event.get("stack_info") if isinstance(event.get("stack_info"), str) else None)
    if isinstance(event.get("exception"), str):  # already rendered by format_exc_info
        text = event["exception"]
        last = text.strip().splitlines()[-1] if text.strip() else ""
        kind, _, message = last.partition(": ")
        return dumps({"type": kind or "Exception", "message": message, "stack": text})
    return None


def _caller() -> tuple[str, str, str, int] | None:
    """(module, function, file, line) of the first frame outside structlog, loguru and this library."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not name.startswith(_OWN_FRAMES):
            return name, frame.f_code.co_name, frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _timestamp(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return utc_text(float(value))
    if isinstance(value, str):
        try:
            return utc_text(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            pass
    return utc_text(datetime.now().timestamp())


def _text(value: Any) -> str:
    return value if isinstance(value, str) else dumps(value)


# -- loguru --------------------------------------------------------------------------------------
def loguru_sink(message: Any) -> None:
    """A loguru sink (``logger.add(aico.logging.loguru_sink)``): each record with its bound
    ``extra``, its level (TRACE as DEBUG, SUCCESS as INFO), call site and exception."""
    _ship(lambda: _from_loguru(message.record))


def _from_loguru(rec: dict[str, Any]) -> Record:
    handler = api.install()
    name = rec.get("name") or "loguru"
    level = stdlib_to_level(int(rec["level"].no))
    record = _base(handler, utc_text(rec["time"].timestamp()), level, str(rec["message"]), module=name, topic=name,
                   function=rec.get("function") or "<unknown>", file=rec["file"].path if rec.get("file") else None,
                   line=rec.get("line"))
    if rec["level"].name not in LEVELS:
        record["severity"] = rec["level"].name
    exception = rec.get("exception")
    if exception is not None and exception.value is not None:
        record["error_details"] = _details(exception.value)
    _apply(record, rec.get("extra") or {}, frozenset())
    return record
