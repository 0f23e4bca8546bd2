"""Hub sign-in in a real JupyterHub: the service started by the hub as a managed service
(``--hub-group-workspaces``), users' hub tokens issued through the hub's REST API."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests
from support.hub_stack import HUB_CACHE_SECONDS, SERVICE_NAME, SERVICE_SCOPE, HubStack

from wallaroo_registry_ui.demo.processes import free_port
from wallaroo_registry_ui.demo.registry_service import CLI
from wallaroo_registry_ui.server.hub_sign_in import HubRefused, HubSignIn, HubUnreachable
from wallaroo_registry_ui.server.settings import HubSettings


@pytest.fixture(scope="module")
def tokens(hub: HubStack) -> dict[str, str]:
    return {name: hub.user_token(name)[0] for name in ("alice", "bob")}


def call(
    hub: HubStack, token: str, path: str, body: object = None, scheme: str = "token"
) -> requests.Response:
    return requests.post(
        f"{hub.service_url}/v1/api/{path}",
        json={} if body is None else body,
        headers={"Authorization": f"{scheme} {token}"},
        timeout=15,
    )


def names(answer: requests.Response) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {w["name"] for w in answer.json()["workspaces"]}


def workspace_id(hub: HubStack, token: str, name: str) -> int:
    found = call(hub, token, "workspaces/list").json()["workspaces"]
    return next(w["id"] for w in found if w["name"] == name)


def test_hub_users_see_their_default_and_group_workspaces_only(hub, tokens):
    bob = names(call(hub, tokens["bob"], "workspaces/list", scheme="Bearer"))
    assert bob == {"bob - Default Workspace", "data-team", "bob-club"}
    alice_own = call(hub, tokens["alice"], "workspaces/list")
    # alice is a hub admin, so an instance admin: she sees every workspace, bob only his
    assert names(alice_own) >= {"alice - Default Workspace", "data-team", "bob-club"}
    assert {w["user_type"] for w in alice_own.json()["workspaces"]} == {"admin"}
    assert "alice - Default Workspace" not in bob


def test_group_members_share_the_group_workspace(hub, tokens):
    for token in tokens.values():
        call(hub, token, "workspaces/list")
    team = workspace_id(hub, tokens["bob"], "data-team")
    members = call(hub, tokens["bob"], "workspaces/list_users", {"workspace_id": team})
    assert members.status_code == 200, members.text
    roles = {m["email"]: m["user_type"] for m in members.json()["users"]}
    assert roles == {"hub:alice": "owner", "hub:bob": "collaborator"}
    default = workspace_id(hub, tokens["bob"], "bob - Default Workspace")
    own = call(hub, tokens["bob"], "workspaces/list_users", {"workspace_id": default}).json()
    assert [(m["email"], m["user_type"]) for m in own["users"]] == [("hub:bob", "owner")]


def test_leaving_a_hub_group_leaves_its_workspace(hub, tokens):
    assert "bob-club" in names(call(hub, tokens["bob"], "workspaces/list"))
    hub.api("DELETE", "/groups/bob-club/users", json={"users": ["bob"]}).raise_for_status()
    try:
        fresh, _ = hub.user_token("bob")  # a token the service has not cached
        assert "bob-club" not in names(call(hub, fresh, "workspaces/list"))
    finally:
        hub.api("POST", "/groups/bob-club/users", json={"users": ["bob"]}).raise_for_status()
    again, _ = hub.user_token("bob")
    assert "bob-club" in names(call(hub, again, "workspaces/list"))


def test_a_token_without_the_service_scope_is_refused_naming_it(hub, tokens):
    token, _ = hub.user_token("bob", scopes=["users:activity!user"])
    answer = call(hub, token, "workspaces/list")
    assert answer.status_code == 403
    assert SERVICE_SCOPE in answer.json()["msg"]
    assert token not in answer.text


def test_a_revoked_token_stops_working_within_the_cache_bound(hub):
    token, token_id = hub.user_token("bob")
    assert call(hub, token, "workspaces/list").status_code == 200
    hub.revoke("bob", token_id)
    deadline = time.monotonic() + HUB_CACHE_SECONDS + 3
    while (status := call(hub, token, "workspaces/list").status_code) == 200:
        assert time.monotonic() < deadline, "the revoked token still works"
        time.sleep(0.25)
    assert status == 401


def test_hub_admins_read_the_audit_trail_others_do_not(hub, tokens):
    call(hub, "not-a-hub-token", "workspaces/list")
    unscoped, _ = hub.user_token("bob", scopes=["users:activity!user"])
    assert call(hub, unscoped, "workspaces/list").status_code == 403
    events = call(hub, tokens["alice"], "audit/list")
    assert events.status_code == 200, events.text
    actions = [(e["actor"], e["action"]) for e in events.json()["events"]]
    assert ("JupyterHub", "user_added") in actions
    assert ("unknown", "login_failed") in actions
    assert ("hub:bob", "login_failed") in actions  # the token without the scope
    assert unscoped not in events.text
    refused = call(hub, tokens["bob"], "audit/list")
    assert refused.status_code == 403


def test_api_tokens_keep_working_beside_hub_tokens(hub, tokens):
    added = subprocess.run(
        [*CLI, "user", "add", "carol@example.com", "--data-dir", str(hub.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    api_token = added.stdout.strip().splitlines()[-1]
    assert names(call(hub, api_token, "workspaces/list", scheme="Bearer")) == set()
    refused = subprocess.run(
        [*CLI, "user", "add", "hub:alice@example.com", "--data-dir", str(hub.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "JupyterHub user" in refused.stderr


def test_hub_admin_rights_follow_the_hub(hub):
    token, _ = hub.user_token("bob")
    assert call(hub, token, "audit/list").status_code == 403
    hub.api("PATCH", "/users/bob", json={"admin": True}).raise_for_status()
    try:
        fresh, _ = hub.user_token("bob")
        assert call(hub, fresh, "audit/list").status_code == 200
    finally:
        hub.api("PATCH", "/users/bob", json={"admin": False}).raise_for_status()
    later, _ = hub.user_token("bob")
    assert call(hub, later, "audit/list").status_code == 403


def test_the_hub_answer_is_trusted_for_the_cache_bound_only(hub):
    """What the service does, in process: a second call within the bound is not asked of
    the hub (a token revoked meanwhile still passes), one after it is; the cache holds the
    token's hash, never the token."""
    now = [0.0]
    sign_in = HubSignIn(
        HubSettings(hub.api_url, SERVICE_NAME, cache_seconds=HUB_CACHE_SECONDS),
        clock=lambda: now[0],
    )
    token, token_id = hub.user_token("bob")
    identity, user_id = sign_in.identity(token)
    assert identity.name == "bob" and not identity.admin and user_id is None
    assert identity.groups == ("bob-club", "data-team") and identity.has_scope(SERVICE_NAME)
    sign_in.remember_user(token, identity, "the-user-id")
    hub.revoke("bob", token_id)
    assert sign_in.identity(token) == (identity, "the-user-id")
    assert all(token not in key for key in sign_in._cache)
    now[0] += HUB_CACHE_SECONDS
    with pytest.raises(HubRefused):
        sign_in.identity(token)


def test_an_unreachable_hub_is_no_sign_in():
    nowhere = HubSettings(f"http://127.0.0.1:{free_port()}/hub/api", SERVICE_NAME)
    with pytest.raises(HubUnreachable, match="could not be reached"):
        HubSignIn(nowhere).identity("some-hub-token")


def test_hub_tokens_never_reach_the_database_or_the_log(hub, tokens):
    for token in tokens.values():
        assert call(hub, token, "workspaces/list").status_code == 200
    stored = b"".join(p.read_bytes() for p in Path(hub.data_dir).glob("registry.db*"))
    assert stored  # the database is there
    logged = hub.log_path.read_bytes()
    assert b"workspaces/list" in logged  # the service's own log is in the hub's
    for token in tokens.values():
        assert token.encode() not in stored
        assert token.encode() not in logged
