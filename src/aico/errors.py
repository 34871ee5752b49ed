"""One exception tree for the whole system.

    AicoError                      root; every error a user can meet is one of these
    +-- ConfigError                a bad config file, key or environment override
    +-- ValidationError            a log record that breaks the schema (carries field errors)
    +-- BusError                   ZeroMQ failures, translated at the bus boundary
    +-- StoreError                 libSQL failures, translated at the store boundary
    |   +-- EncryptionKeyError     wrong or missing database key
    |   +-- ReadOnlyQueryError     a query that would write, where only reads are allowed
    +-- QueryError                 a bad filter, time expression or query from a reader (400, field named)
    +-- BackendError               the backend container or a plugin failed to start/stop
    +-- BridgeError                a request the frontend bridge refuses as a whole
        +-- UnauthorizedError      no or a wrong bearer token (401)
        +-- PayloadTooLargeError   a body, batch or message past its configured limit (413)
        +-- OverloadedError        the producer's bounds are reached: send again later (429)
        |   +-- NotDurableError    the records could not be made durable in time: send again later (503)
        +-- ClientGoneError        the client disconnected before its body was read (counted, 499)
        +-- UnsupportedMediaError  a body in a content type the route does not take (415)
    +-- ExportError                the OTLP exporter cannot reach or is refused by its endpoint

Each carries ``exit_code`` (for the CLI) and ``http_status`` (for the bridge), mapped in
one place by each of them.
"""

from __future__ import annotations

from dataclasses import dataclass


class AicoError(Exception):
    exit_code = 1
    http_status = 500


class ConfigError(AicoError):
    exit_code = 2
    http_status = 500


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a record."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ValidationError(AicoError):
    exit_code = 2
    http_status = 422

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


class BusError(AicoError):
    http_status = 503


class StoreError(AicoError):
    http_status = 503


class EncryptionKeyError(StoreError):
    exit_code = 3


class ReadOnlyQueryError(StoreError):
    exit_code = 2
    http_status = 400


class QueryError(AicoError):
    """``field`` names the query parameter at fault, where the reader is an API (the dashboard's)."""

    exit_code = 2
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class BackendError(AicoError):
    pass


class BridgeError(AicoError):
    http_status = 400


class UnauthorizedError(BridgeError):
    http_status = 401


class PayloadTooLargeError(BridgeError):
    http_status = 413


class ClientGoneError(BridgeError):
    http_status = 499  # nginx's "client closed request": nobody reads the answer


class OverloadedError(BridgeError):
    http_status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class NotDurableError(OverloadedError):
    """Accepted records not on the bridge's spool (nor stored) within its time: nothing is promised."""
    http_status = 503


class UnsupportedMediaError(BridgeError):
    """A body in a content type the route does not take."""
    http_status = 415


class ExportError(AicoError):
    """The OTLP exporter's endpoint is unreachable or refuses a batch."""
    http_status = 502
