"""The documented entry point for backend services (``unified-logging.md``).

    from aico.core.logging_context import create_infrastructure_logger
    logger = create_infrastructure_logger("my_service")
    logger.info("Processing request", extra={"module": "backend.my_service",
                                             "function": "process_request",
                                             "topic": "service.request"})
"""

from __future__ import annotations

from aico.logging.adapter import AicoLoggerAdapter
from aico.logging.api import get_logger


def create_infrastructure_logger(name: str) -> AicoLoggerAdapter:
    """A logger for backend service ``name`` (subsystem ``backend``); ``extra=`` may set any schema field."""
    return get_logger("backend", name)
