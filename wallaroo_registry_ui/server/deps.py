"""What routes depend on: the services, a database session, the caller, a registry's connector.

Routes import these from here and never the app, so the app may import every route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wallaroo_registry_ui.server.artifacts import ArtifactStore
from wallaroo_registry_ui.server.connection_pools import ConnectionPools
from wallaroo_registry_ui.server.connectors import open_connector
from wallaroo_registry_ui.server.connectors.base import RegistryConnector
from wallaroo_registry_ui.server.errors import ApiError
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


def current_user(request: Request, session: Annotated[Session, Depends(db_session)]) -> User:
    """Bearer API token -> user; 401 for a missing, unknown or expired token, or a removed
    user."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "missing API token: send 'Authorization: Bearer <token>'")
    found = session.execute(
        select(User, ApiToken.expires_at)
        .join(ApiToken)
        .where(ApiToken.token_sha256 == hash_api_token(token.strip()))
    ).first()
    if found is None:
        raise ApiError(401, "invalid API token")
    user, expires_at = found
    refusal = token_refusal(user, as_utc(expires_at), utcnow())
    if refusal:
        raise ApiError(401, refusal)
    return user


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
