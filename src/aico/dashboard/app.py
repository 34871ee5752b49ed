"""The dashboard's FastAPI application: the page, its read-only JSON API, the live tail.

Every API route answers GET only (``POST /api/v1/session`` aside, which uses up a login code and
sets the session cookie, and touches no data): nothing here writes, deletes or takes SQL. Routes take the CLI's filters
as query parameters (``query.py``); a bad one is a 400 naming the field.

    GET  /                          the page (``static/``)
    GET  /api/v1/health             {"status": "ok"} (no token needed)
    POST /api/v1/session            a one-time login code (or the bearer token) -> the session cookie
    GET  /api/v1/search             a page of matching records, newest first, and the next page's cursor
    GET  /api/v1/histogram          matching records per time bucket and level
    GET  /api/v1/records/{id}       one record whole
    GET  /api/v1/trace/{trace_id}   every record of a trace, in time order
    GET  /api/v1/rejects            bad payloads with their reason, newest first
    GET  /api/v1/status             what ``aico gateway status`` shows, and the store's size
    GET  /api/v1/tail               Server-Sent Events: each new matching record as it is stored
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from aico import __version__
from aico.config.settings import Settings
from aico.dashboard import histogram as histograms
from aico.dashboard import logins, readers, tail
from aico.dashboard.auth import COOKIE, Gate, host_allowed
from aico.dashboard.query import build_filter, decode_cursor, encode_cursor, flag_param, int_param
from aico.errors import AicoError, QueryError, UnauthorizedError
from aico.stderr import say
from aico.store.filters import LogFilter
from aico.store.search import cursor_of

STATIC = Path(__file__).with_name("static")
TRACE_LIMIT = 10_000
SECURITY_HEADERS = {
    # The page's own files only: no inline script, nothing from elsewhere, no framing.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                               "form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def create_app(settings: Settings, token: str, *, clock: Callable[[], float] = time.time) -> FastAPI:
    cfg = settings.core.dashboard
    app = FastAPI(title="aico log dashboard", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.settings = settings
    app.state.gate = Gate(token, enabled=cfg.auth, clock=clock)
    app.state.pool = readers.StorePool(settings)
    app.add_middleware(_Guard, bind_host=cfg.host)
    app.add_exception_handler(AicoError, _aico_error)  # type: ignore[arg-type]
    app.include_router(_public)
    app.include_router(_api)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


class _Guard(BaseHTTPMiddleware):
    """The Host check (DNS rebinding), the security headers on every answer, a JSON 500 for a bug."""

    def __init__(self, app: Any, bind_host: str) -> None:
        super().__init__(app)
        self.bind_host = bind_host

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if not host_allowed(request.headers.get("host"), self.bind_host):
            return JSONResponse({"error": "this dashboard answers to loopback host names only"}, status_code=421)
        try:
            response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - not one of ours (those have their handler): still an answer, told
            response = _unexpected(request, exc)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _aico_error(request: Request, exc: AicoError) -> JSONResponse:
    body: dict[str, Any] = {"error": str(exc), "type": type(exc).__name__}
    if isinstance(exc, QueryError) and exc.field:
        body["field"] = exc.field
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthorizedError) else {}
    return JSONResponse(body, status_code=exc.http_status, headers=headers)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug or a failure nobody foresaw: still an answer the page can show, never a blank page."""
    say(f"{request.url.path}: {type(exc).__name__}: {exc}", prefix="[aico dashboard]")
    return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}", "type": "InternalError"},
                        status_code=500)


def authorized(request: Request) -> None:
    request.app.state.gate.check(request.headers.get("authorization"), request.cookies.get(COOKIE))


def params(request: Request) -> dict[str, str]:
    """The query string as one value a name; a name given twice is refused (which one would count?)."""
    out: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in out:
            raise QueryError(f"{name}: given more than once", field=name)
        out[name] = value
    return out


_public = APIRouter()
_api = APIRouter(prefix="/api/v1", dependencies=[Depends(authorized)])


@_public.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


@_public.get("/api/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@_public.post("/api/v1/session", status_code=204)
def session(request: Request) -> Response:
    """Trade a one-time login code (``Authorization: Login <code>``, from the link ``aico dashboard url``
    prints) or the bearer token for the session cookie. A code works once, for ``LOGIN_TTL_S``."""
    gate: Gate = request.app.state.gate
    authorization = request.headers.get("authorization") or ""
    scheme, _, code = authorization.partition(" ")
    if gate.enabled and scheme.lower() == "login":
        if not logins.redeem(request.app.state.settings, code.strip(), now=gate.clock()):
            raise UnauthorizedError("this login link was used already or has expired: run `aico dashboard url` "
                                    "(or `aico dashboard open`) for a new one")
    else:
        gate.check(authorization, None)
    response = Response(status_code=204)
    response.set_cookie(COOKIE, gate.new_session(), max_age=gate.session_ttl,
                        expires=gate.session_ttl, httponly=True, samesite="strict",
                        path="/")
    return response


def _pool(request: Request) -> readers.StorePool:
    pool: readers.StorePool = request.app.state.pool
    readers.check_store(pool.settings)
    return pool


@_api.get("/search")
def search(request: Request) -> dict[str, Any]:
    """A page of matches, newest first; ``cursor`` (from the last answer's ``next``) gives the next one."""
    cfg = request.app.state.settings.core.dashboard
    p = params(request)
    flt = build_filter(p, allowed=("limit", "cursor", "archives"))
    limit = int_param(p, "limit", cfg.page_size, low=1, high=cfg.max_page_size)
    started = time.perf_counter()
    if flag_param(p, "archives"):
        return {**_search_archives(request, flt, limit, p.get("cursor")), "archives": True,
                "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}
    start = decode_cursor(p.get("cursor"), flt)
    top = None
    with _pool(request).store() as store:
        if start is None:  # a first page ends at the newest id now: a live tail goes on from there
            top = store.max_id()
            flt = replace(flt, upto_id=top)
        rows = readers.search_page(store, flt, limit=limit + 1, start=start)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"records": [readers.record_json(r) for r in rows],
            "next": encode_cursor(cursor_of(rows[-1], flt)) if more else None, "archives": False,
            "tail_after": top, "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}


def _search_archives(request: Request, flt: LogFilter, limit: int, cursor: str | None) -> dict[str, Any]:
    """The archives have no index: each page reads the days it covers (``cursor``: the oldest time shown)."""
    if cursor:
        if len(cursor) != 27 or not cursor.endswith("Z"):
            raise QueryError(f"cursor: not a cursor of an archive search: {cursor!r}", field="cursor")
        flt = replace(flt, until=min(cursor, flt.until) if flt.until else cursor)
    from aico.retention.search import search_archives  # the archive reader and its ciphers: on first use

    rows = search_archives(request.app.state.settings, flt, limit + 1)
    rows.reverse()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"records": [readers.record_json(r) for r in rows], "next": rows[-1]["timestamp"] if more else None}


@_api.get("/histogram")
def histogram(request: Request) -> dict[str, Any]:
    """Counts per time bucket and level over ``since``..``until`` (``grep``: at most 200,000 rows read)."""
    flt = build_filter(params(request))
    started = time.perf_counter()
    with _pool(request).store() as store:
        result = histograms.histogram(store, flt)
    return {**result, "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}


@_api.get("/records/{record_id}")
def record(request: Request, record_id: str) -> dict[str, Any]:
    if not record_id.isdigit() or len(record_id) > 18:
        raise QueryError(f"id: not a record id: {record_id!r}", field="id")
    with _pool(request).store() as store:
        row = store.get(int(record_id))
    if row is None:
        return _not_found(f"no record with id {record_id}")  # type: ignore[return-value]
    return readers.record_json(row)


@_api.get("/trace/{trace_id}")
def trace(request: Request, trace_id: str) -> dict[str, Any]:
    """Every record of the trace (frontend and backend), in time order, with the time since the first."""
    if not trace_id or len(trace_id) > 256:
        raise QueryError("trace_id: must be 1 to 256 characters", field="trace_id")
    with _pool(request).store() as store:
        rows = list(store.search(LogFilter(trace_id=trace_id, limit=TRACE_LIMIT + 1), ascending=True))
    truncated = len(rows) > TRACE_LIMIT
    records = [readers.record_json(r) for r in rows[:TRACE_LIMIT]]
    return {"trace_id": trace_id, "records": records, "truncated": truncated,
            "origins": sorted({r.get("origin") or "?" for r in records})}


@_api.get("/rejects")
def rejects(request: Request) -> dict[str, Any]:
    cfg = request.app.state.settings.core.dashboard
    p = params(request)
    extra = set(p) - {"limit", "before"}
    if extra:
        name = sorted(extra)[0]
        raise QueryError(f"{name}: unknown parameter (known: before, limit)", field=name)
    limit = int_param(p, "limit", cfg.page_size, low=1, high=cfg.max_page_size)
    before = int_param(p, "before", 0, low=0, high=2**62) or None
    with _pool(request).store() as store:
        return readers.rejects(store, limit=limit, before=before)


@_api.get("/status")
def status(request: Request) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    cfg = settings.core.dashboard
    return {**readers.status(settings), "version": __version__,
            "page": {"page_size": cfg.page_size, "status_interval_ms": cfg.status_interval_ms,
                     "tail_interval_ms": cfg.tail_interval_ms, "auth": cfg.auth}}


@_api.get("/tail")
async def live_tail(request: Request) -> Response:
    p = params(request)
    flt = build_filter(p, allowed=("after",))
    after = request.headers.get("last-event-id") or p.get("after")
    start = int_param({"after": after or ""}, "after", -1, low=0, high=2**62)
    return tail.stream(request, _pool(request), flt, start if start >= 0 else None)


def _not_found(message: str) -> JSONResponse:
    return JSONResponse({"error": message, "type": "NotFound"}, status_code=404)
