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
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from wallaroo_registry_ui.server import audit
from wallaroo_registry_ui.server.artifacts import ArtifactStore
from wallaroo_registry_ui.server.connection_pools import ConnectionPools, open_registry_connector
from wallaroo_registry_ui.server.connectors.base import RegistryConnector
from wallaroo_registry_ui.server.connectors.deadlines import registry_deadline
from wallaroo_registry_ui.server.errors import ApiError, log, shown
from wallaroo_registry_ui.server.hub_accounts import hub_user_key, sign_in_hub_user
from wallaroo_registry_ui.server.hub_sign_in import HubRefused, HubSignIn, HubUnreachable
from wallaroo_registry_ui.server.registry_calls import RegistryCallSlots
from wallaroo_registry_ui.server.secrets import TokenCipher, hash_api_token
from wallaroo_registry_ui.server.settings import Limits
from wallaroo_registry_ui.server.store import ApiToken, Registry, User, as_utc, utcnow
from wallaroo_registry_ui.server.users import TOKEN_PREFIX, token_refusal

if TYPE_CHECKING:
    from wallaroo_registry_ui.server.upload_process import UploadProcess

UPLOAD_CHECK_SECONDS = 10.0


@dataclass
class Services:
    """What routes need besides the request: the store, the token cipher, the file store,
    the registries' connection pools, the handle on this process's upload runner, the
    limits a call keeps to and the slots of the calls waiting on registries."""

    sessions: sessionmaker
    cipher: TokenCipher
    artifacts: ArtifactStore
    connections: ConnectionPools
    uploads: UploadProcess
    limits: Limits
    registry_calls: RegistryCallSlots
    hub: HubSignIn | None = None
    """Set when users may sign in with their JupyterHub tokens too."""


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
    user. With hub sign-in, a token that is none of ours (``Bearer`` or the hub's own
    ``token`` scheme) is asked of the hub (``hub_user``)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    schemes = ("bearer", "token") if svc.hub else ("bearer",)
    if scheme.lower() not in schemes or not token:
        raise refused_login(
            svc,
            request,
            "no API token sent",
            "missing API token: send 'Authorization: Bearer <token>'",
        )
    if svc.hub and not token.startswith(TOKEN_PREFIX):
        return hub_user(request, session, svc, svc.hub, token)
    found = session.execute(
        select(User, ApiToken.expires_at)
        .join(ApiToken)
        .where(ApiToken.token_sha256 == hash_api_token(token))
    ).first()
    if found is None:
        raise refused_login(svc, request, "unknown API token", "invalid API token")
    user, expires_at = found
    refusal = token_refusal(user, as_utc(expires_at), utcnow())
    if refusal:
        raise refused_login(svc, request, refusal, refusal, actor=user.email)
    return user


def hub_user(request: Request, session: Session, svc: Services, hub: HubSignIn, token: str) -> User:
    """The service user of a hub token: the hub's answer (cached a short while), its
    scope for this service checked (403 naming it), the user made or brought in step."""
    try:
        identity, user_id = hub.identity(token)
    except HubRefused as exc:
        raise refused_login(svc, request, str(exc), "invalid API token") from None
    except HubUnreachable as exc:
        log.warning("hub sign-in failed: %s", exc)
        raise ApiError(503, "the hub could not confirm the token; try again") from None
    name = hub_user_key(identity.name)
    if not identity.has_scope(hub.settings.service_name):
        why = f"the hub token lacks the scope {hub.settings.scope}"
        refused_login(svc, request, why, why, actor=name)
        raise ApiError(403, f"{why}: the hub must grant it to the user and their token")
    user = session.get(User, user_id) if user_id else None
    if user is None:
        user = sign_in_hub_user(
            svc.sessions, identity, group_workspaces=hub.settings.group_workspaces
        )
        hub.remember_user(token, identity, user.id)
        user = session.get(User, user.id)
    if user is None or user.removed_at is not None:
        why = "this user was removed from the service"
        raise refused_login(svc, request, why, why, actor=name)
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


class RegistryCall:
    """Talks to a registry the route has already checked the caller may use, holding no
    database connection while it does."""

    def __init__(self, session: Session, svc: Services, user: User) -> None:
        self._session = session
        self._svc = svc
        self._user_id = user.id

    def listing(self, registry: Registry) -> contextlib.AbstractContextManager[RegistryConnector]:
        """A connector for a listing."""
        return self._talk(registry, self._svc.limits.listing_deadline, "a listing")

    def upload_check(
        self, registry: Registry
    ) -> contextlib.AbstractContextManager[RegistryConnector]:
        """A connector for an upload's checks before it is answered (the path, the file's
        size): bounded more tightly than a listing, so an upload is answered within seconds
        whatever the registry does (a size it could not learn is checked by the transfer)."""
        seconds = min(self._svc.limits.listing_deadline, UPLOAD_CHECK_SECONDS)
        return self._talk(registry, seconds, "an upload's check")

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
