"""The shapes of the bridge's requests and responses, as its OpenAPI schema shows them.

Request bodies are read and judged by hand (record by record, see ``intake.py``), so the
record model here documents the schema; ``aico.schema.normalize`` is what enforces it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LogRecordIn(BaseModel):
    """One log record as a frontend sends it (unknown keys are kept under ``extra``)."""

    model_config = ConfigDict(extra="allow")

    timestamp: str | float = Field(description="ISO-8601 (naive is UTC) or epoch seconds/milliseconds")
    level: str = Field(description="DEBUG, INFO, WARNING (WARN), ERROR, CRITICAL (FATAL); any case",
                       pattern=r"^(?i:debug|info|warn|warning|error|critical|fatal)$")
    module: str = Field(min_length=1)
    function: str = Field(min_length=1)
    topic: str = Field(min_length=1)
    message: str
    subsystem: str | None = Field(None, description="default: core.bridge.subsystem")
    file: str | None = None
    line: int | None = Field(None, ge=0)
    trace_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    extra: dict[str, Any] | None = None
    error_details: dict[str, Any] | str | None = None
    severity: str | None = None
    origin: str | None = Field(None, description="default: core.bridge.origin (frontend)")
    environment: str | None = None
    producer_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
        description="the client's own id; with seq, the store keeps one copy however often it is sent",
    )
    seq: int | None = Field(None, ge=1, le=2**63 - 1, description="the client's sequence number, from 1")


class LogBatchIn(BaseModel):
    logs: list[LogRecordIn]


class FieldProblem(BaseModel):
    field: str
    message: str


class Rejected(BaseModel):
    index: int = Field(description="position of the record in the batch, from 0")
    errors: list[FieldProblem]


class BatchResult(BaseModel):
    """Accepted records are durable (on the bridge's spool file, or stored) and will be stored."""

    accepted: int
    rejected: list[Rejected]


class ErrorBody(BaseModel):
    error: str
    type: str
    errors: list[FieldProblem] = Field(default_factory=list)


class Health(BaseModel):
    status: str


RECORD_SCHEMA: dict[str, Any] = {"$ref": "#/components/schemas/LogRecordIn"}
BATCH_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "array", "items": {"$ref": "#/components/schemas/LogRecordIn"}},
        {"$ref": "#/components/schemas/LogBatchIn"},
    ]
}


def component_schemas() -> dict[str, Any]:
    """The request models for the schema's ``components`` (responses get theirs from FastAPI)."""
    out: dict[str, Any] = {}
    for model in (LogRecordIn, LogBatchIn):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def json_body(schema: dict[str, Any], *content_types: str) -> dict[str, Any]:
    """``openapi_extra`` declaring a required request body of ``schema`` in ``content_types``."""
    return {"requestBody": {"required": True, "content": {t: {"schema": schema} for t in content_types}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "bad request (encoding)", 401: "missing or wrong bearer token", 413: "a limit is passed",
            422: "the body or record breaks the schema", 429: "the producer is full: send again after Retry-After",
            503: "the records were not durable on the bridge's spool in time: send again after Retry-After"}
    return {s: {"model": ErrorBody, "description": text[s]} for s in statuses}
