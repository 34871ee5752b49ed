"""The HTTP routes: one record, a batch, a beacon, and the spec's ``POST /log``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aico.bridge.intake import Intake
from aico.bridge.limits import batch_of, parse_json, read_body
from aico.bridge.models import (
    BATCH_SCHEMA,
    RECORD_SCHEMA,
    BatchResult,
    Health,
    error_responses,
    json_body,
)

bearer = HTTPBearer(auto_error=False, description="the token in $AICO_HOME/keys/bridge.token")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
JSON = "application/json"


def intake_of(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def authorize(request: Request, credentials: Credentials) -> None:  # async: no thread hop per request
    request.app.state.tokens.require(credentials.credentials if credentials else None)


router = APIRouter()
authorized = APIRouter(dependencies=[Depends(authorize)])


@router.get("/api/v1/health", response_model=Health, tags=["bridge"])
async def health() -> Health:
    """Whether the bridge answers (no token needed; says nothing else)."""
    return Health(status="ok")


@authorized.post(
    "/api/v1/logs", status_code=202, response_model=BatchResult, tags=["logs"],
    responses=error_responses(400, 401, 413, 422, 429, 503), openapi_extra=json_body(RECORD_SCHEMA, JSON),
)
async def post_one(request: Request) -> BatchResult:
    """One record. 202: on the bridge's spool (it survives a crash); 422 lists the fields that are wrong;
    503 with Retry-After: not durable in time, send it again."""
    intake = intake_of(request)
    record = intake.single(parse_json(await read_body(request, intake.cfg)))
    await intake.hand_over([record])
    intake.counters.batches += 1
    return BatchResult(accepted=1, rejected=[])


@authorized.post(
    "/api/v1/logs/batch", status_code=202, response_model=BatchResult, tags=["logs"],
    responses=error_responses(400, 401, 413, 422, 429, 503), openapi_extra=json_body(BATCH_SCHEMA, JSON),
)
async def post_batch(request: Request) -> BatchResult:
    """A JSON array of records, or ``{"logs": [...]}`` (gzip welcome). Judged record by record:
    the valid ones are accepted, each rejected index is listed with its field errors."""
    return await _batch(request)


@router.post(
    "/api/v1/logs/beacon", status_code=202, response_model=BatchResult, tags=["logs"],
    responses=error_responses(400, 401, 413, 422, 429, 503),
    openapi_extra=json_body(BATCH_SCHEMA, JSON, "text/plain"),
)
async def post_beacon(
    request: Request,
    credentials: Credentials,
    token: Annotated[str | None, Query(description="the bridge token (navigator.sendBeacon cannot send headers)")]
    = None,
) -> BatchResult:
    """A batch sent by ``navigator.sendBeacon`` on page hide: the token may come as ``?token=``."""
    presented = credentials.credentials if credentials else None
    if presented is None and intake_of(request).cfg.beacon_query_token:
        presented = token
    request.app.state.tokens.require(presented)
    return await _batch(request)


@authorized.post(
    "/log", status_code=204, response_class=Response, tags=["logs"],
    responses=error_responses(400, 401, 413, 422, 429, 503), openapi_extra=json_body(RECORD_SCHEMA, JSON),
)
async def post_log(request: Request) -> Response:
    """The spec's bridge endpoint: one record, 204 when taken."""
    await post_one(request)
    return Response(status_code=204)


async def _batch(request: Request) -> BatchResult:
    intake = intake_of(request)
    intake.check_room()
    body = await read_body(request, intake.cfg)
    judged = await intake.batch(batch_of(parse_json(body), intake.cfg), len(body))
    return BatchResult.model_validate({"accepted": len(judged.records), "rejected": judged.rejected})

