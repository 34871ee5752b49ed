"""The logger library's record building: call site, extra, exceptions, context, the spec's API."""

from __future__ import annotations

import json
import logging

from aico.logging import log_context
from aico.logging.adapter import AicoLoggerAdapter
from aico.logging.testing import capture_logs


def test_call_site_extra_and_context_are_captured() -> None:
    """Each record carries module, function, file, line, extra fields and the context ids."""
    log = logging.getLogger("app.orders")
    with capture_logs() as records, log_context(trace_id="t-1", session_id="s-1", user_id="u-1"):
        log.info("order %s placed", 42, extra={"amount": 9.5})
    (rec,) = records
    assert rec["message"] == "order 42 placed"
    assert rec["module"] == "app.orders"
    assert rec["function"] == "test_call_site_extra_and_context_are_captured"
    assert rec["file"] == __file__
    assert isinstance(rec["line"], int) and rec["line"] > 0
    assert (rec["trace_id"], rec["session_id"], rec["user_id"]) == ("t-1", "s-1", "u-1")
    assert json.loads(rec["extra"]) == {"amount": 9.5}
    assert rec["timestamp"].endswith("Z") and len(rec["timestamp"]) == 27


def test_context_is_restored_after_the_block() -> None:
    """Ids from log_context apply inside the block only, and nest."""
    log = logging.getLogger("app.ctx")
    with capture_logs() as records:
        with log_context(trace_id="outer"):
            with log_context(session_id="inner"):
                log.info("both")
            log.info("outer only")
        log.info("none")
    assert [(r["trace_id"], r["session_id"]) for r in records] == [
        ("outer", "inner"), ("outer", None), (None, None)]


def test_exc_info_becomes_error_details() -> None:
    """logger.error(..., exc_info=True) gives error_details with type, message and stack."""
    log = logging.getLogger("app.err")
    with capture_logs() as records:
        try:
            raise ValueError("bad value")
        except ValueError:
            log.error("it failed", exc_info=True)
    details = json.loads(records[0]["error_details"])
    assert details["type"] == "ValueError"
    assert details["message"] == "bad value"
    assert "raise ValueError" in details["stack"]


def test_spec_example_extra_sets_fields_without_keyerror() -> None:
    """The spec's extra={"module", "function", "topic"} sets those fields (stdlib alone raises KeyError)."""
    log = AicoLoggerAdapter(logging.getLogger("backend.my_service"), "backend", "my_service")
    with capture_logs() as records:
        log.info("Processing request", extra={"module": "backend.my_service", "function": "process_request",
                                              "topic": "service.request"})
    rec = records[0]
    assert (rec["module"], rec["function"], rec["topic"], rec["subsystem"]) == (
        "backend.my_service", "process_request", "service.request", "backend")


def test_plain_logger_with_colliding_extra_never_raises() -> None:
    """After install, even a plain stdlib logger accepts extra keys that clash with LogRecord."""
    log = logging.getLogger("plain.collide")
    with capture_logs() as records:
        log.warning("x", extra={"module": "m.custom", "filename": "f.txt", "msg": "kept"})
    rec = records[0]
    assert rec["module"] == "m.custom"
    assert json.loads(rec["extra"]) == {"filename": "f.txt", "msg": "kept"}


def test_bad_format_args_do_not_lose_the_record() -> None:
    """A message whose %-args do not fit is still shipped, with the failure said."""
    from aico.logging.fields import build

    record = logging.LogRecord("app.fmt", logging.INFO, __file__, 1, "%d items", ("many",), None)
    built = build(record, subsystem="s", origin="backend", environment="test", max_message_bytes=1024)
    assert "formatting" in built["message"] and "%d items" in built["message"]


def test_unserialisable_extra_is_kept_as_repr() -> None:
    """Extra values JSON cannot hold are kept as their repr."""
    with capture_logs() as records:
        logging.getLogger("app.extra").info("x", extra={"obj": object()})
    assert json.loads(records[0]["extra"])["obj"].startswith("<object object")


def test_level_filtering_at_the_source() -> None:
    """Records below the root level never reach the handler."""
    with capture_logs(level=logging.WARNING) as records:
        logging.getLogger("app.lvl").info("dropped at source")
        logging.getLogger("app.lvl").warning("kept")
    assert [r["message"] for r in records] == ["kept"]


def test_recursion_guard_stops_logging_from_logging_code(monkeypatch) -> None:
    """A sink that logs while shipping does not loop; without the guard it would."""
    from aico import recursion_guard as guard
    from aico.logging.handler import AicoHandler

    class LoggingSink:
        def __init__(self) -> None:
            self.calls = 0
            self.dropped: list[str] = []

        def offer(self, record: dict) -> bool:
            self.calls += 1
            if self.calls < 30:  # a safety net for the unguarded run below
                logging.getLogger("transport").warning("sent %s", record["message"])
            return True

        def count_drop(self, reason: str) -> None:
            self.dropped.append(reason)

        def flush(self, timeout: float | None = None) -> bool:
            return True

    def run() -> LoggingSink:
        sink = LoggingSink()
        handler = AicoHandler(sink, subsystem="t", origin="backend", environment="test", max_message_bytes=1024)
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            logging.getLogger("app").warning("hello")
        finally:
            root.removeHandler(handler)
        return sink

    guarded = run()
    assert guarded.calls == 1
    assert guarded.dropped == ["recursion"]

    monkeypatch.setattr(guard, "active", lambda: False)
    unguarded = run()
    assert unguarded.calls >= 30  # it would have gone on until the stack overflowed
