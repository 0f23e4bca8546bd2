"""Users and their API tokens, as the command line creates them."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from wallaroo_registry_ui.server.secrets import hash_api_token
from wallaroo_registry_ui.server.store import ApiToken, User

TOKEN_PREFIX = "wru_"


def email_problem(email: str) -> str | None:
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in email):
        return f"'{email}' is not an e-mail address"
    return None


def add_user_token(
    sessions: sessionmaker, email: str, *, is_admin: bool = False
) -> tuple[User, str]:
    """Create the user if new, and a fresh API token either way; only its hash is kept.

    ``is_admin`` makes the user an instance admin; without it an admin stays one (a new
    token is no demotion).
    """
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with sessions.begin() as session:
        user = session.scalar(select(User).where(func.lower(User.email) == email.lower()))
        if user is None:
            user = User(email=email)
            session.add(user)
            session.flush()
        if is_admin:
            user.is_admin = True
        session.add(ApiToken(user_id=user.id, token_sha256=hash_api_token(token)))
    return user, token
