"""The bridge's FastAPI application: CORS, the one error handler, routes, the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from aico import __version__
from aico.bridge import otlp, routes, websocket
from aico.bridge.auth import TokenCheck
from aico.bridge.intake import Intake, Sink, field_errors
from aico.bridge.models import component_schemas
from aico.config.settings import Settings
from aico.errors import AicoError, ClientGoneError, FieldError, OverloadedError, UnauthorizedError, ValidationError

TITLE = "aico frontend bridge"


def create_app(settings: Settings, sink: Sink, token: str) -> FastAPI:
    """The application, handing accepted records to ``sink`` (the relaying producer)."""
    app = FastAPI(title=TITLE, version=__version__, docs_url=None, redoc_url=None,
                  description="Frontends send JSON log records; each accepted record is stored once.")
    app.state.intake = Intake(settings, sink)
    app.state.tokens = TokenCheck(token)
    app.add_middleware(
        CORSMiddleware, allow_origins=list(settings.core.bridge.cors_origins), allow_credentials=False,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "Content-Encoding", "Idempotency-Key"],
        expose_headers=["Retry-After"], max_age=600,
    )
    app.add_exception_handler(AicoError, _aico_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_error)  # type: ignore[arg-type]
    app.include_router(routes.router)
    app.include_router(routes.authorized)
    app.include_router(otlp.router)
    app.include_router(websocket.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _aico_error(request: Request, exc: AicoError) -> JSONResponse:
    """Every refusal, from the one exception tree: its ``http_status``, a message, the field errors."""
    body: dict[str, Any] = {"error": str(exc), "type": type(exc).__name__, "errors": []}
    headers = {}
    if isinstance(exc, ValidationError):
        body["errors"] = field_errors(exc.errors)
    if isinstance(exc, UnauthorizedError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, OverloadedError):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, ClientGoneError):
        request.app.state.intake.counters.disconnects += 1
    elif not isinstance(exc, OverloadedError):
        request.app.state.intake.counters.refused += 1
    return JSONResponse(body, status_code=exc.http_status, headers=headers)


def _request_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own parameter errors, in the same shape as every other refusal."""
    problems = [FieldError(".".join(str(p) for p in e.get("loc", ())), str(e.get("msg"))) for e in exc.errors()]
    return _aico_error(request, ValidationError(problems))


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {}).update(component_schemas())
        app.openapi_schema = schema
    return app.openapi_schema
