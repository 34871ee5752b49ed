"""The logger library: stdlib ``logging`` in, the bus out; never blocks, never raises.

    import logging, aico.logging
    aico.logging.install()
    logging.getLogger(__name__).info("hello", extra={"topic": "greeting"})
    with aico.logging.log_context(trace_id="abc"):
        ...
"""

from aico.logging.api import flush, get_logger, install, stats, uninstall
from aico.logging.context import log_context
from aico.logging.integrations import loguru_sink, structlog_processor

__all__ = ["flush", "get_logger", "install", "log_context", "loguru_sink", "stats", "structlog_processor",
           "uninstall"]
