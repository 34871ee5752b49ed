"""structlog and loguru records become schema records with their context; failures never reach the app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import loguru
import pytest
import structlog

import aico.logging
from aico.logging import api
from aico.logging.handler import AicoHandler
from aico.logging.testing import _Capture
from aico.schema.record import loads, normalize


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Capture]:
    sink = _Capture()
    handler = AicoHandler(sink, subsystem="app", origin="backend", environment="test", max_message_bytes=1024)
    monkeypatch.setattr(api, "_handler", handler)
    yield sink
    structlog.reset_defaults()


def configure_structlog() -> Any:
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True), aico.logging.structlog_processor(),
                    lambda _logger, _method, _event: ""],
        logger_factory=structlog.ReturnLoggerFactory(), cache_logger_on_first_use=False)
    return structlog.get_logger()


def test_structlog_events_keep_their_bound_context(capture: _Capture) -> None:
    """Level, event, bound keys, field keys and the call site are in the record, which the schema accepts."""
    log = configure_structlog().bind(request_id="r-1", topic="api/call", trace_id="t-9")
    log.warning("slow call", took_ms=812)
    [record] = capture.records
    normalize(record)
    assert (record["level"], record["message"], record["topic"], record["trace_id"]) == (
        "WARNING", "slow call", "api/call", "t-9")
    assert loads(record["extra"]) == {"request_id": "r-1", "took_ms": 812}
    assert record["function"] == "test_structlog_events_keep_their_bound_context"
    assert record["file"] == __file__ and record["module"] == __name__


def test_structlog_exceptions_become_error_details(capture: _Capture) -> None:
    """log.exception() inside an except block gives type, message and stack."""
    log = configure_structlog()
    try:
        {}["missing"]
    except KeyError:
        log.exception("lookup failed")
    details = loads(capture.records[0]["error_details"])
    assert capture.records[0]["level"] == "ERROR"
    assert details["type"] == "KeyError" and "missing" in details["stack"]


def test_a_broken_event_is_counted_not_raised(capture: _Capture) -> None:
    """An event whose value cannot be built is counted as a drop; the app's call returns."""

    class Bad:
        def __str__(self) -> str:
            raise RuntimeError("no")

    log = configure_structlog()
    log.info("x", subsystem=Bad())
    assert capture.dropped == {"build_error": 1} and not capture.records


def test_loguru_records_with_extra_levels_and_exceptions(capture: _Capture) -> None:
    """loguru's bound extra, TRACE as DEBUG (severity kept), SUCCESS as INFO, exceptions as error_details."""
    logger = loguru.logger
    logger.remove()
    sink_id = logger.add(aico.logging.loguru_sink, level="TRACE")
    try:
        bound = logger.bind(session_id="s-1", order=7)
        bound.trace("tiny")
        bound.success("done")
        try:
            raise ZeroDivisionError("math")
        except ZeroDivisionError:
            bound.exception("math")
    finally:
        logger.remove(sink_id)
    trace, success, error = capture.records
    for record in capture.records:
        normalize(record)
    assert (trace["level"], trace["severity"], success["level"], success["severity"]) == (
        "DEBUG", "TRACE", "INFO", "SUCCESS")
    assert trace["session_id"] == "s-1" and loads(trace["extra"]) == {"order": 7}
    assert trace["function"] == "test_loguru_records_with_extra_levels_and_exceptions" and trace["module"] == __name__
    assert error["level"] == "ERROR" and loads(error["error_details"])["type"] == "ZeroDivisionError"
