"""What routes depend on: the services, a database session, the caller, a registry's connector.

Routes import these from here and never the app, so the app may import every route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from wallaroo_registry_ui.server import audit
from wallaroo_registry_ui.server.artifacts import ArtifactStore
from wallaroo_registry_ui.server.connection_pools import ConnectionPools
from wallaroo_registry_ui.server.connectors import open_connector
from wallaroo_registry_ui.server.connectors.base import RegistryConnector
from wallaroo_registry_ui.server.errors import ApiError, log, shown
from wallaroo_registry_ui.server.secrets import TokenCipher, hash_api_token
from wallaroo_registry_ui.server.store import ApiToken, Registry, User, as_utc, utcnow
from wallaroo_registry_ui.server.users import token_refusal

if TYPE_CHECKING:
    from wallaroo_registry_ui.server.upload_process import UploadProcess


@dataclass
class Services:
    """What routes need besides the request: the store, the token cipher, the file store,
    the registries' connection pools, and the handle on this process's upload runner."""

    sessions: sessionmaker
    cipher: TokenCipher
    artifacts: ArtifactStore
    connections: ConnectionPools
    uploads: UploadProcess


def services(request: Request) -> Services:
    return request.app.state.services


def db_session(svc: Annotated[Services, Depends(services)]) -> Iterator[Session]:
    with svc.sessions() as session:
        yield session


def current_user(
    request: Request,
    session: Annotated[Session, Depends(db_session)],
    svc: Annotated[Services, Depends(services)],
) -> User:
    """Bearer API token -> user; 401 for a missing, unknown or expired token, or a removed
    user."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise refused_login(
            svc,
            request,
            "no API token sent",
            "missing API token: send 'Authorization: Bearer <token>'",
        )
    found = session.execute(
        select(User, ApiToken.expires_at)
        .join(ApiToken)
        .where(ApiToken.token_sha256 == hash_api_token(token.strip()))
    ).first()
    if found is None:
        raise refused_login(svc, request, "unknown API token", "invalid API token")
    user, expires_at = found
    refusal = token_refusal(user, as_utc(expires_at), utcnow())
    if refusal:
        raise refused_login(svc, request, refusal, refusal, actor=user.email)
    return user


def refused_login(
    svc: Services, request: Request, why: str, msg: str, *, actor: str = "unknown"
) -> ApiError:
    """The 401, once the attempt is in the audit trail: who (an email when the token was
    known), why, the call and the caller's address; nothing of the token itself."""
    client = request.client.host if request.client else "an unknown address"
    detail = f"{why}, calling {shown(request.url.path)} from {client}"
    try:
        audit.record_alone(svc.sessions, actor, "login_failed", detail=detail)
    except SQLAlchemyError:
        log.warning("could not record a failed sign-in (%s) in the audit trail", why)
    return ApiError(401, msg)


SessionDep = Annotated[Session, Depends(db_session)]
UserDep = Annotated[User, Depends(current_user)]
ServicesDep = Annotated[Services, Depends(services)]


OpenConnector = Callable[[Registry], RegistryConnector]


def open_registry_connector(
    cipher: TokenCipher, connections: ConnectionPools, registry: Registry
) -> RegistryConnector:
    """A registry's connector with its decrypted token, over a pooled session."""
    token = cipher.decrypt(registry.token_encrypted)
    session = connections.session_for(registry.id, registry.url)
    return open_connector(registry.kind, registry.name, registry.url, token, session)


def connector_opener(svc: ServicesDep) -> OpenConnector:
    """Opens the connector of a registry the route has already checked the caller may use."""

    def open_for(registry: Registry) -> RegistryConnector:
        return open_registry_connector(svc.cipher, svc.connections, registry)

    return open_for


ConnectorDep = Annotated[OpenConnector, Depends(connector_opener)]
