"""``capture_logs``: what is logged inside the block is captured, nothing is shipped, all is restored after."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import loguru
import pytest

from aico.logging import api
from aico.logging.handler import AicoHandler
from aico.logging.integrations import loguru_sink
from aico.logging.testing import _Capture, capture_logs


@pytest.fixture
def installed() -> Iterator[tuple[AicoHandler, _Capture]]:
    """A shipping handler installed as ``install()`` would, its sink recording what it is offered."""
    sink = _Capture()
    handler = AicoHandler(sink, subsystem="app", origin="backend", environment="test", max_message_bytes=1024)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    with api.swapped_handler(handler):
        yield handler, sink
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_nothing_is_shipped_while_capturing(installed: tuple[AicoHandler, _Capture]) -> None:
    """Inside the block stdlib records and install() reach the capture only, never the installed producer."""
    handler, sink = installed
    with capture_logs() as records:
        logging.getLogger("app.orders").warning("inside")
        assert api.install() is not handler  # the capture stands in: no producer is started either
        api.install().sink.offer({"message": "through the integrations' path"})
    assert [r["message"] for r in records] == ["inside", "through the integrations' path"]
    assert sink.records == []


def test_the_installed_handler_ships_again_after_the_block(installed: tuple[AicoHandler, _Capture]) -> None:
    """After the block the shipping handler, the installed handler and the root level are as before."""
    handler, sink = installed
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    before = list(root.handlers)
    with capture_logs(level=logging.DEBUG):
        assert handler not in root.handlers
    assert list(root.handlers) == before and root.level == logging.WARNING
    assert api.install() is handler
    logging.getLogger("app.orders").warning("after")
    assert [r["message"] for r in sink.records] == ["after"]


def test_a_loguru_record_inside_the_block_is_captured_not_shipped(installed: tuple[AicoHandler, _Capture]) -> None:
    """The integrations ship through the installed handler, which the capture stands in for during the block."""
    _, sink = installed
    sink_id = loguru.logger.add(loguru_sink)
    try:
        with capture_logs() as records:
            loguru.logger.info("from loguru")
    finally:
        loguru.logger.remove(sink_id)
    assert [r["message"] for r in records] == ["from loguru"]
    assert sink.records == []
