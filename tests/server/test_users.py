"""Users on the command line, against a real service: tokens that expire, revoking every token
of a user, removing a user (their work stays, their sign-in and memberships go), and the 401s
a refused token gets, in words that never repeat it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.service_stack import run_cli

from wallaroo_registry_ui.client.errors import NotFound
from wallaroo_registry_ui.server.store import (
    ApiToken,
    AuditEvent,
    Membership,
    Registry,
    User,
    Workspace,
    as_utc,
    make_engine,
    utcnow,
)

SHORT_LIFE_DAYS = 4 / 86400
"""An API token that lives four seconds."""


@pytest.fixture
def database(registry_service) -> Iterator[Session]:
    """The service's own database, read beside it."""
    engine = make_engine(registry_service.database_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _new_token(service, email: str, *flags: str) -> str:
    done = run_cli(service, "user", "add", email, *flags)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _whoami(service, token: str):
    """A call every signed-in user may make."""
    return service.post(token, "workspaces/list", {})


def _refused(reply, words: str) -> None:
    assert reply.status_code == 401, reply.text
    assert reply.json()["msg"] == words


def test_a_token_with_a_lifetime_is_refused_once_it_expired(registry_service, database):
    token = _new_token(
        registry_service, "expiring@example.com", "--expires-in", str(SHORT_LIFE_DAYS)
    )
    assert _whoami(registry_service, token).status_code == 200
    stored = database.scalars(
        select(ApiToken).join(User).where(User.email == "expiring@example.com")
    ).one()
    lifetime = as_utc(stored.expires_at) - as_utc(stored.created_at)
    assert abs(lifetime - timedelta(days=SHORT_LIFE_DAYS)) < timedelta(seconds=1)

    time.sleep(max(0.0, (as_utc(stored.expires_at) - utcnow()).total_seconds()) + 0.2)
    reply = _whoami(registry_service, token)
    _refused(reply, "API token expired")
    assert token not in reply.text
    forever = _new_token(registry_service, "expiring@example.com")
    assert _whoami(registry_service, forever).status_code == 200


@pytest.mark.parametrize("days", ["0", "-1", "soon", "nan", "inf", "1e9"])
def test_a_bad_lifetime_is_refused_naming_the_flag(registry_service, database, days):
    email = "never-made@example.com"
    done = run_cli(registry_service, "user", "add", email, f"--expires-in={days}")
    assert done.returncode == 2
    assert "--expires-in" in done.stderr and "days" in done.stderr
    assert database.scalar(select(User).where(User.email == email)) is None


def test_revoke_ends_every_token_of_the_user_and_a_new_one_works(registry_service, database):
    email = "revoked@example.com"
    first, second = _new_token(registry_service, email), _new_token(registry_service, email)
    other = _new_token(registry_service, "not-revoked@example.com")
    assert _whoami(registry_service, first).status_code == 200

    done = run_cli(registry_service, "user", "revoke", email.upper())
    assert done.returncode == 0, done.stderr
    assert "revoked 2 API token(s)" in done.stdout
    for token in (first, second):
        _refused(_whoami(registry_service, token), "invalid API token")
    assert _whoami(registry_service, other).status_code == 200

    again = run_cli(registry_service, "user", "revoke", email)
    assert "revoked 0 API token(s)" in again.stdout
    newer = _new_token(registry_service, email)
    assert _whoami(registry_service, newer).status_code == 200
    _refused(_whoami(registry_service, first), "invalid API token")
    trail = database.scalars(
        select(AuditEvent.detail).where(AuditEvent.action == "user_revoked")
    ).all()
    assert f"{email}: 2 API token(s) revoked" in trail


@pytest.mark.parametrize("command", ["revoke", "remove"])
def test_an_unknown_email_is_an_error(registry_service, command):
    done = run_cli(registry_service, "user", command, "nobody-at-all@example.com")
    assert done.returncode == 1
    assert "no user has the email 'nobody-at-all@example.com'" in done.stderr


def test_a_removed_user_cannot_sign_in_and_what_they_made_stays(registry_service, alice, database):
    email = "leaving@example.com"
    token = _new_token(registry_service, email)
    leaving = registry_service.client(token)
    own = leaving.create_workspace("leaving-own")
    registry = leaving.create_registry("leaving reg", "http://127.0.0.1:9", workspace_id=own)
    shared = alice.client.create_workspace("leaving-shared")
    alice.client.add_user(shared, email)

    done = run_cli(registry_service, "user", "remove", email)
    assert done.returncode == 0, done.stderr
    assert "out of 2 workspace(s)" in done.stdout
    assert "no owner now (an admin can add one): leaving-own" in done.stdout

    _refused(_whoami(registry_service, token), "invalid API token")
    members = {u.email for u in alice.client.list_users(shared)}
    assert members == {"alice@example.com"}
    user = database.scalars(select(User).where(User.email == email)).one()
    assert user.removed_at is not None
    assert database.get(Workspace, own).created_by == user.id
    assert database.get(Registry, registry).created_by == user.id
    assert database.scalars(select(Membership).where(Membership.user_id == user.id)).all() == []
    assert database.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all() == []

    with pytest.raises(NotFound, match=r"leaving@example\.com"):
        alice.client.add_user(shared, email)
    assert {u.email for u in alice.client.list_users(shared)} == {"alice@example.com"}

    again = run_cli(registry_service, "user", "remove", email)
    assert again.returncode == 0 and "already removed" in again.stdout

    back = registry_service.client(_new_token(registry_service, email))
    assert back.list_workspaces() == []
    database.expire_all()
    assert database.scalars(select(User).where(User.email == email)).one().removed_at is None
    actions = database.scalars(
        select(AuditEvent.action).where(AuditEvent.detail.startswith(f"{email}:"))
    ).all()
    assert {"user_added", "user_removed"} <= set(actions)


def test_a_token_of_a_removed_user_is_refused(registry_service, database):
    """Removal deletes the tokens; a token that still points at a removed user (written by
    hand, or a removal half seen) is refused all the same."""
    email = "removed-by-hand@example.com"
    token = _new_token(registry_service, email)
    user = database.scalars(select(User).where(User.email == email)).one()
    user.removed_at = utcnow()
    database.commit()
    reply = _whoami(registry_service, token)
    _refused(reply, "this user was removed from the service")
    assert token not in reply.text
