"""The FastAPI application: wiring, auth dependency and the contract's error bodies."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from wallaroo_registry_ui import __version__
from wallaroo_registry_ui.server.api_errors import ApiError, shown
from wallaroo_registry_ui.server.artifacts import ArtifactStore
from wallaroo_registry_ui.server.connection_pools import ConnectionPools
from wallaroo_registry_ui.server.connectors import (
    InvalidArtifactPath,
    RegistryNotFound,
    UpstreamError,
    UpstreamTimeout,
)
from wallaroo_registry_ui.server.secrets import TokenCipher, hash_api_token
from wallaroo_registry_ui.server.settings import Settings
from wallaroo_registry_ui.server.store import ApiToken, ModelVersion, User, open_store

log = logging.getLogger("wallaroo_registry_ui.server")

MAX_MESSAGE = 2000


@dataclass
class Services:
    """What routes need besides the request: the store, the token cipher, the file store."""

    sessions: sessionmaker
    cipher: TokenCipher
    artifacts: ArtifactStore
    connections: ConnectionPools


def services(request: Request) -> Services:
    return request.app.state.services


def db_session(svc: Annotated[Services, Depends(services)]) -> Iterator[Session]:
    with svc.sessions() as session:
        yield session


def current_user(request: Request, session: Annotated[Session, Depends(db_session)]) -> User:
    """Bearer API token -> user; 401 for a missing or unknown token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "missing API token: send 'Authorization: Bearer <token>'")
    user = session.scalar(
        select(User).join(ApiToken).where(ApiToken.token_sha256 == hash_api_token(token.strip()))
    )
    if user is None:
        raise ApiError(401, "invalid API token")
    return user


SessionDep = Annotated[Session, Depends(db_session)]
UserDep = Annotated[User, Depends(current_user)]
ServicesDep = Annotated[Services, Depends(services)]


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
        return _error(exc.status, exc.msg)

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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s in %s", type(exc).__name__, request.url.path, exc_info=exc)
        return _error(500, "internal error; the server log has the details")


def create_app(settings: Settings) -> FastAPI:
    from wallaroo_registry_ui.server.routes import config, models, registries, workspaces

    app = FastAPI(title="wallaroo-registry-ui", version=__version__, docs_url=None, redoc_url=None)
    sessions = open_store(settings.database_url)
    artifacts = ArtifactStore(settings.artifacts_dir)
    with sessions() as session:
        removed = artifacts.sweep(set(session.scalars(select(ModelVersion.version))))
    if removed:
        log.warning("removed %d unfinished upload(s) left in %s", removed, artifacts.root)
    app.state.services = Services(
        sessions=sessions,
        cipher=TokenCipher.from_environment(settings.key_file),
        artifacts=artifacts,
        connections=ConnectionPools(),
    )
    install_error_handlers(app)
    app.include_router(config.router, prefix="/v1/api")
    app.include_router(workspaces.router, prefix="/v1/api/workspaces")
    app.include_router(registries.router, prefix="/v1/api/models")
    app.include_router(models.router, prefix="/v1/api/models")
    return app
