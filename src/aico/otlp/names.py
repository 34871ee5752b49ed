"""Attribute names shared by both directions of the mapping (OpenTelemetry semantic conventions,
and the ``aico.*`` names for our fields that have no OpenTelemetry home)."""

from __future__ import annotations

SERVICE_NAME = "service.name"
DEPLOYMENT_ENVIRONMENT = ("deployment.environment.name", "deployment.environment")
FUNCTION = ("code.function.name", "code.function")  # the newer name first; both are read
FILE = ("code.file.path", "code.filepath")
LINE = ("code.line.number", "code.lineno")
EXCEPTION_TYPE, EXCEPTION_MESSAGE, EXCEPTION_STACK = "exception.type", "exception.message", "exception.stacktrace"
USER_ID, SESSION_ID = "user.id", "session.id"

TOPIC, ORIGIN, ENVIRONMENT, SEVERITY = "aico.topic", "aico.origin", "aico.environment", "aico.severity"
TRACE_ID = "aico.trace_id"  # a trace id that is not 32 hex digits (OTLP's trace_id holds only 16 bytes)
PRODUCER_ID, SEQ = "aico.producer_id", "aico.seq"  # the record's delivery stamp: a re-send is stored once
ERROR_DETAILS = "aico.error_details"  # error_details keys beyond type, message and stack

RESOURCE = "otel.resource"  # extra key holding resource attributes other than service.name
SCOPE_VERSION = "otel.scope.version"
SPAN_ID, TRACE_FLAGS, EVENT_NAME = "span_id", "trace_flags", "event_name"  # extra keys

# OTLP severity numbers: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL
SEVERITY_LEVELS = ("DEBUG", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LEVEL_NUMBERS = {"DEBUG": 5, "INFO": 9, "WARNING": 13, "ERROR": 17, "CRITICAL": 21}


def level_of_number(number: int) -> str | None:
    """Our level for an OTLP severity number, or None for 0 (unspecified) and numbers past 24."""
    if 1 <= number <= 24:
        return SEVERITY_LEVELS[(number - 1) // 4]
    return None
