"""What routes depend on: the services, a database session, the caller, a registry's connector.

Routes import these from here and never the app, so the app may import every route. A route
that talks to a registry does it through ``RegistryCallDep``: the request's database session
is closed first (its connection back to the pool, no transaction left open while a registry
trickles), the call takes one of the caller's registry slots (503 when none is free) and runs
under its deadline (504 when it passes); whatever the route writes afterwards goes through
the same session, which opens a new transaction for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wallaroo_registry_ui.server.artifacts import ArtifactStore
from wallaroo_registry_ui.server.connection_pools import ConnectionPools
from wallaroo_registry_ui.server.connectors import open_connector
from wallaroo_registry_ui.server.connectors.base import RegistryConnector
from wallaroo_registry_ui.server.connectors.deadlines import registry_deadline
from wallaroo_registry_ui.server.errors import ApiError
from wallaroo_registry_ui.server.registry_calls import RegistryCallSlots
from wallaroo_registry_ui.server.secrets import TokenCipher, hash_api_token
from wallaroo_registry_ui.server.settings import Limits
from wallaroo_registry_ui.server.store import ApiToken, Registry, User
from wallaroo_registry_ui.server.upload_runner import UploadRunner


@dataclass
class Services:
    """What routes need besides the request: the store, the token cipher, the file store,
    the registries' connection pools, this process's upload runner, the limits a call
    keeps to and the slots of the calls waiting on registries."""

    sessions: sessionmaker
    cipher: TokenCipher
    artifacts: ArtifactStore
    connections: ConnectionPools
    uploads: UploadRunner
    limits: Limits
    registry_calls: RegistryCallSlots


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


OpenConnector = Callable[[Registry], RegistryConnector]


def open_registry_connector(
    cipher: TokenCipher, connections: ConnectionPools, registry: Registry
) -> RegistryConnector:
    """A registry's connector with its decrypted token, over a pooled session."""
    token = cipher.decrypt(registry.token_encrypted)
    session = connections.session_for(registry.id, registry.url)
    return open_connector(registry.kind, registry.name, registry.url, token, session)


class RegistryCall:
    """Talks to a registry the route has already checked the caller may use, holding no
    database connection while it does."""

    def __init__(self, session: Session, svc: Services, user: User) -> None:
        self._session = session
        self._svc = svc
        self._user_id = user.id

    def listing(self, registry: Registry) -> contextlib.AbstractContextManager[RegistryConnector]:
        """A connector for a listing (or an upload's check of the file's size)."""
        return self._talk(registry, self._svc.limits.listing_deadline, "a listing")

    def preview(self, registry: Registry) -> contextlib.AbstractContextManager[RegistryConnector]:
        """A connector for reading the start of a file."""
        return self._talk(registry, self._svc.limits.preview_deadline, "a preview")

    @contextmanager
    def _talk(self, registry: Registry, seconds: float, what: str) -> Iterator[RegistryConnector]:
        self._session.close()
        with self._svc.registry_calls.slot(self._user_id), registry_deadline(seconds, what):
            connector = open_registry_connector(self._svc.cipher, self._svc.connections, registry)
            try:
                yield connector
            finally:
                connector.close()


def registry_call(session: SessionDep, svc: ServicesDep, user: UserDep) -> RegistryCall:
    return RegistryCall(session, svc, user)


RegistryCallDep = Annotated[RegistryCall, Depends(registry_call)]
