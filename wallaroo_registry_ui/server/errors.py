"""Errors a route raises on purpose, and how every error becomes the contract's body.

Every failure answers ``{"msg", "code"}``: a route's own ApiError, a body that does not
validate (400 naming the field, not FastAPI's 422), a connector's error about the registry
(404/502/504), a framework error before any route runs, a service out of room (503 with
``Retry-After`` when its database connections are all taken, 507 when its disk is full), and
anything unexpected (500, logged).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from wallaroo_registry_ui.server.connectors.base import (
    InvalidArtifactPath,
    RegistryNotFound,
    UpstreamError,
    UpstreamTimeout,
)

log = logging.getLogger("wallaroo_registry_ui.server")

SHOWN_VALUE_LIMIT = 100
MAX_MESSAGE = 2000
BUSY_RETRY_SECONDS = 5
"""What a 503 asks the caller to wait before trying again."""
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
POSTGRES_DISK_FULL = "53100"


def shown(value: str) -> str:
    """A caller's value as an error message repeats it: shortened, so a 1 MB name is not
    sent back whole."""
    if len(value) <= SHOWN_VALUE_LIMIT:
        return value
    return value[: SHOWN_VALUE_LIMIT - 1] + "…"


class ApiError(Exception):
    def __init__(self, status: int, msg: str, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.msg = msg
        self.headers = dict(headers or {})
        super().__init__(msg)


def service_busy(msg: str, retry_after: int = BUSY_RETRY_SECONDS) -> ApiError:
    """503 with ``Retry-After``: the call was fine, the service has no room for it now."""
    return ApiError(503, f"{msg}; try again in {retry_after} s", {"Retry-After": str(retry_after)})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    item: BaseException | None = exc
    while item is not None and id(item) not in seen:
        seen.add(id(item))
        yield item
        item = getattr(item, "orig", None) or item.__cause__ or item.__context__


def is_disk_full(exc: BaseException) -> bool:
    """True for a write refused because the disk (or the user's quota) is full: an OSError,
    SQLite's "database or disk is full", PostgreSQL's disk_full."""
    for item in _chain(exc):
        if isinstance(item, OSError) and item.errno in DISK_FULL_ERRNOS:
            return True
        if "database or disk is full" in str(item):
            return True
        if getattr(item, "pgcode", None) == POSTGRES_DISK_FULL:
            return True
    return False


def bad_field(field: str, problem: str) -> ApiError:
    """400 naming the field, so the caller knows what to fix."""
    return ApiError(400, f"{field}: {problem}")


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def forbidden(msg: str) -> ApiError:
    return ApiError(403, msg)


def _error(status: int, msg: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The contract's error body; a message is capped, whatever a caller's value made it."""
    if len(msg) > MAX_MESSAGE:
        msg = msg[: MAX_MESSAGE - 1] + "…"
    return JSONResponse({"msg": msg, "code": status}, status_code=status, headers=headers)


def _field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) if parts else "body"


def _sent_as_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _validation_message(exc: RequestValidationError, request: Request) -> str:
    problems = []
    for err in exc.errors():
        field = _field_name(tuple(err.get("loc", ())))
        kind = err.get("type", "")
        if field == "body" and kind == "missing":
            problems.append("body: is empty; send a JSON object")
        elif kind == "missing":
            problems.append(f"{field}: required field is missing")
        elif kind == "json_invalid":
            problems.append("body: is not valid JSON")
        elif field == "body" and kind in ("model_attributes_type", "dict_type"):
            if _sent_as_json(request):
                problems.append("body: must be a JSON object")
            else:
                problems.append(
                    "body: must be a JSON object sent as 'Content-Type: application/json'"
                )
        else:
            msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
            problems.append(f"{field}: {msg}")
    return "; ".join(problems) or "the request is invalid"


def _framework_message(request: Request, exc: StarletteHTTPException) -> str:
    """Errors raised by the framework before a route runs, said in the contract's words."""
    call = f"{request.method} {shown(request.url.path)}"
    if exc.status_code == 400:
        return (
            "body: could not be read as JSON "
            "(it must be UTF-8, not nested too deeply, with numbers of ordinary size)"
        )
    if exc.status_code == 404:
        return f"path: no such call {call}"
    if exc.status_code == 405:
        return f"method: {call} is not allowed; calls are POST, except GET /v1/api/config"
    return str(exc.detail)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.msg, exc.headers)

    @app.exception_handler(PoolTimeout)
    async def _no_connection(request: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("no database connection free for %s", request.url.path)
        busy = service_busy("the service is busy: every database connection is in use")
        return _error(busy.status, busy.msg, busy.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, _validation_message(exc, request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, _framework_message(request, exc), exc.headers)

    @app.exception_handler(InvalidArtifactPath)
    async def _bad_path(_request: Request, exc: InvalidArtifactPath) -> JSONResponse:
        return _error(400, f"path: {exc}")

    @app.exception_handler(RegistryNotFound)
    async def _upstream_missing(_request: Request, exc: RegistryNotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(UpstreamTimeout)
    async def _upstream_timeout(_request: Request, exc: UpstreamTimeout) -> JSONResponse:
        return _error(504, str(exc))

    @app.exception_handler(UpstreamError)
    async def _upstream(_request: Request, exc: UpstreamError) -> JSONResponse:
        return _error(502, str(exc))

    # Handled here rather than by the catch-all below, which re-raises and so makes the
    # server close the connection after answering.
    app.add_exception_handler(OSError, _failed)
    app.add_exception_handler(SQLAlchemyError, _failed)
    app.add_exception_handler(Exception, _failed)


async def _failed(request: Request, exc: Exception) -> JSONResponse:
    """507 for a write the full disk refused; 500 (logged, said in no detail) otherwise."""
    if is_disk_full(exc):
        log.error("disk full while answering %s: %s", request.url.path, exc)
        return _error(507, "the service's disk is full: nothing was written; try again later")
    log.error("unexpected %s in %s", type(exc).__name__, request.url.path, exc_info=exc)
    return _error(500, "internal error; the server log has the details")
