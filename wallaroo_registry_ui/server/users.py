"""Users and their API tokens, as the command line creates, revokes and removes them."""

from __future__ import annotations

import getpass
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from wallaroo_registry_ui.server import audit
from wallaroo_registry_ui.server.secrets import hash_api_token
from wallaroo_registry_ui.server.store import ApiToken, Membership, User, Workspace, utcnow

TOKEN_PREFIX = "wru_"
HUB_USER_PREFIX = "hub:"
"""How the ``email`` column marks a user signed in by JupyterHub (``hub:<hub name>``)."""
MAX_EXPIRES_IN_DAYS = 36500


class UnknownUser(LookupError):
    """No user has that email."""

    def __init__(self, email: str) -> None:
        super().__init__(f"no user has the email '{email}'")


def email_problem(email: str) -> str | None:
    if email.lower().startswith(HUB_USER_PREFIX):
        return f"'{email}' names a JupyterHub user; they sign in with their hub token"
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in email):
        return f"'{email}' is not an e-mail address"
    return None


def expires_in_problem(days: str) -> str | None:
    """Why ``days`` is not a lifetime for an API token (a positive number of days)."""
    try:
        value = float(days)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        return f"must be a positive number of days, not '{days[:40]}'"
    if value > MAX_EXPIRES_IN_DAYS:
        return f"must be at most {MAX_EXPIRES_IN_DAYS} days"
    return None


def command_line_actor() -> str:
    """Who the audit trail names for a change made with the command line."""
    try:
        return f"command line ({getpass.getuser()})"
    except (KeyError, OSError):
        return "command line"


def _find(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def add_user_token(
    sessions: sessionmaker,
    email: str,
    *,
    expires_in_days: float | None = None,
    is_admin: bool = False,
    actor: str | None = None,
) -> tuple[User, str]:
    """Create the user if new, and a fresh API token either way; only its hash is kept.

    A removed user comes back (able to sign in again with the new token), without the
    memberships that went with the removal. The token expires after ``expires_in_days``.
    ``is_admin`` makes the user an instance admin; without it an admin stays one (a new
    token is no demotion).
    """
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = None if expires_in_days is None else now + timedelta(days=expires_in_days)
    with sessions.begin() as session:
        user = _find(session, email)
        if user is None:
            user = User(email=email)
            session.add(user)
            session.flush()
            what = "new user"
        elif user.removed_at is not None:
            user.removed_at = None
            what = "removed user added back (without their former workspaces)"
        else:
            what = "new API token"
        if is_admin:
            user.is_admin = True
            what += ", instance admin"
        session.add(
            ApiToken(
                user_id=user.id,
                token_sha256=hash_api_token(token),
                created_at=now,
                expires_at=expires_at,
            )
        )
        lifetime = f"; it expires {expires_at.isoformat()}" if expires_at else ""
        audit.record(
            session,
            actor or command_line_actor(),
            "user_added",
            detail=f"{user.email}: {what}{lifetime}",
        )
    return user, token


def revoke_tokens(sessions: sessionmaker, email: str, *, actor: str | None = None) -> int:
    """Delete every API token of the user; how many there were. UnknownUser if none has
    that email."""
    with sessions.begin() as session:
        user = _find(session, email)
        if user is None:
            raise UnknownUser(email)
        count = _delete_tokens(session, user)
        audit.record(
            session, actor or command_line_actor(), "user_revoked",
            detail=f"{user.email}: {count} API token(s) revoked",
        )  # fmt: skip
    return count


@dataclass(frozen=True)
class RemovedUser:
    """What ``remove_user`` did: the tokens and memberships that went, and the workspaces
    the removal left without an owner (an admin can give them one)."""

    email: str
    already_removed: bool
    tokens: int = 0
    workspaces: list[str] = field(default_factory=list)
    without_owner: list[str] = field(default_factory=list)


def remove_user(sessions: sessionmaker, email: str, *, actor: str | None = None) -> RemovedUser:
    """The user can no longer sign in and belongs to no workspace; the row stays (marked
    removed), so what they created keeps naming them. UnknownUser if none has that email."""
    with sessions.begin() as session:
        user = _find(session, email)
        if user is None:
            raise UnknownUser(email)
        if user.removed_at is not None:
            return RemovedUser(user.email, already_removed=True)
        tokens = _delete_tokens(session, user)
        workspaces = session.execute(
            select(Workspace.id, Workspace.name)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == user.id)
            .order_by(Workspace.id)
        ).all()
        session.execute(delete(Membership).where(Membership.user_id == user.id))
        user.removed_at = utcnow()
        owned = set(
            session.scalars(
                select(Membership.workspace_id).where(
                    Membership.workspace_id.in_([w.id for w in workspaces]),
                    Membership.user_type == "owner",
                )
            )
        )
        names = [w.name for w in workspaces]
        audit.record(
            session, actor or command_line_actor(), "user_removed",
            detail=f"{user.email}: removed from {len(names)} workspace(s), {tokens} API token(s)",
        )  # fmt: skip
        return RemovedUser(
            user.email,
            already_removed=False,
            tokens=tokens,
            workspaces=names,
            without_owner=[w.name for w in workspaces if w.id not in owned],
        )


def _delete_tokens(session: Session, user: User) -> int:
    return session.execute(delete(ApiToken).where(ApiToken.user_id == user.id)).rowcount or 0


def token_refusal(user: User, expires_at: datetime | None, now: datetime) -> str | None:
    """Why a known API token does not sign its user in (in words, never naming the token)."""
    if user.removed_at is not None:
        return "this user was removed from the service"
    if expires_at is not None and expires_at <= now:
        return "API token expired"
    return None
