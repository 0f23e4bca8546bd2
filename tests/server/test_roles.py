"""Workspace roles through the real service: owners manage members and registries,
collaborators browse and upload, instance admins do everything, the last owner stays."""

from __future__ import annotations

import pytest
from support.registry_helpers import TRICKLE_PATH, TrickleFile, local_http_server
from support.upload_api import UploadApi

from wallaroo_registry_ui.client.errors import BadRequest, Conflict, Forbidden, NotFound

UNREACHABLE = "http://127.0.0.1:9"


def _member(registry_service, email: str):
    """A new user's client."""
    return registry_service.client(registry_service.add_user(email), max_retry_seconds=5)


def _roles(client, workspace_id: int) -> dict[str, str]:
    return {u.email: u.user_type for u in client.list_users(workspace_id)}


def _needs_owner(excinfo, workspace_id: int) -> None:
    """The 403 names the role the call needs, and where."""
    assert f"needs the owner role in workspace {workspace_id}" in str(excinfo.value)


def test_a_collaborator_cannot_manage_members_or_registries(registry_service, alice):
    carol = _member(registry_service, "carol.collab@example.com")
    _member(registry_service, "dave.collab@example.com")
    _member(registry_service, "erin.collab@example.com")
    workspace = alice.client.create_workspace("roles-members")
    registry = alice.client.create_registry("owners registry", UNREACHABLE, workspace_id=workspace)
    alice.client.add_user(workspace, "carol.collab@example.com")
    alice.client.add_user(workspace, "dave.collab@example.com")
    before = _roles(alice.client, workspace)
    assert before["carol.collab@example.com"] == "collaborator"

    for attempt in (
        lambda: carol.add_user(workspace, "erin.collab@example.com"),
        lambda: carol.add_user(workspace, "carol.collab@example.com", user_type="owner"),
        lambda: carol.remove_user(workspace, "dave.collab@example.com"),
        lambda: carol.remove_user(workspace, "alice@example.com"),
        lambda: carol.remove_user(workspace, "nobody-at-all@example.com"),
        lambda: carol.detach_registry(registry, workspace),
        lambda: carol.create_registry("collab registry", UNREACHABLE, workspace_id=workspace),
    ):
        with pytest.raises(Forbidden) as refused:
            attempt()
        _needs_owner(refused, workspace)
        assert refused.value.message.startswith("workspace_id: ")
    own = carol.create_registry("carols own", UNREACHABLE)
    with pytest.raises(Forbidden) as refused:
        carol.attach_registry(own, workspace)
    _needs_owner(refused, workspace)

    assert _roles(alice.client, workspace) == before
    assert [w.id for w in alice.client.get_registry(registry).workspaces] == [workspace]
    assert [r.name for r in carol.list_registries()] == ["owners registry", "carols own"]
    # What a collaborator may do: see the workspace, its members, registries and models.
    listed = {w.id: w.user_type for w in carol.list_workspaces()}
    assert listed[workspace] == "collaborator"
    assert {w.id: w.user_type for w in alice.client.list_workspaces()}[workspace] == "owner"
    assert _roles(carol, workspace) == before
    assert [r.id for r in carol.list_registries(workspace)] == [registry]
    assert carol.get_registry(registry).id == registry
    assert carol.list_models(workspace) == []


def test_a_collaborator_cannot_hand_another_members_registry_to_her_workspace(
    registry_service, alice
):
    carol = _member(registry_service, "carol.taker@example.com")
    shared = alice.client.create_workspace("roles-shared")
    registry = alice.client.create_registry("alices credential", UNREACHABLE, workspace_id=shared)
    alice.client.add_user(shared, "carol.taker@example.com")
    mine = carol.create_workspace("roles-carols-own")
    own = carol.create_registry("carols credential", UNREACHABLE)
    assert {r.id for r in carol.list_registries()} == {registry, own}
    assert [r.id for r in carol.list_registries(attachable=True)] == [own]

    with pytest.raises(Forbidden) as refused:
        carol.attach_registry(registry, mine)
    assert f"only the creator of registry {registry} or an instance admin" in str(refused.value)
    assert [w.id for w in alice.client.get_registry(registry).workspaces] == [shared]
    assert carol.list_registries(mine) == []
    # Nor can the creator put it in a workspace she does not belong to.
    with pytest.raises(Forbidden):
        alice.client.attach_registry(registry, mine)
    # Once she has left, carol does not even see it: the 404 of an unknown id.
    assert carol.remove_user(shared, "carol.taker@example.com") == 1
    with pytest.raises(NotFound):
        carol.attach_registry(registry, mine)


def test_owners_set_roles_and_the_last_owner_stays(registry_service, alice):
    frank = _member(registry_service, "frank.role@example.com")
    gina = _member(registry_service, "gina.role@example.com")
    workspace = alice.client.create_workspace("roles-owners")
    sdk_body = {
        "workspace_id": workspace,
        "email": "frank.role@example.com",
        "user_type": "OWNER",
        "user_id": "ignored",
        "url": "ignored",
    }
    reply = registry_service.post(alice.token, "workspaces/add_user", sdk_body)
    assert reply.status_code == 200 and reply.json() == {}, reply.text
    assert _roles(alice.client, workspace)["frank.role@example.com"] == "owner"
    bad = registry_service.post(alice.token, "workspaces/add_user", {**sdk_body, "user_type": "x"})
    assert bad.status_code == 400
    assert bad.json()["msg"] == "user_type: must be one of owner, collaborator"
    # Added again without a role: the role stays; with one: it changes.
    alice.client.add_user(workspace, "frank.role@example.com")
    assert _roles(alice.client, workspace)["frank.role@example.com"] == "owner"
    alice.client.add_user(workspace, "frank.role@example.com", user_type="Collaborator")
    alice.client.add_user(workspace, "gina.role@example.com")
    assert _roles(alice.client, workspace) == {
        "alice@example.com": "owner",
        "frank.role@example.com": "collaborator",
        "gina.role@example.com": "collaborator",
    }

    for attempt in (
        lambda: alice.client.remove_user(workspace, "alice@example.com"),
        lambda: alice.client.add_user(workspace, "alice@example.com", user_type="collaborator"),
    ):
        with pytest.raises(Conflict) as refused:
            attempt()
        assert f"alice@example.com is the last owner of workspace {workspace}" in str(refused.value)
    assert _roles(alice.client, workspace)["alice@example.com"] == "owner"

    # A member may leave; a second owner lets the first one go.
    assert frank.remove_user(workspace, "frank.role@example.com") == 1
    alice.client.add_user(workspace, "gina.role@example.com", user_type="owner")
    assert alice.client.remove_user(workspace, "alice@example.com") == 1
    assert _roles(gina, workspace) == {"gina.role@example.com": "owner"}
    with pytest.raises(Forbidden):
        alice.client.list_users(workspace)
    with pytest.raises(Conflict):
        gina.remove_user(workspace, "gina.role@example.com")


def test_an_unknown_role_is_refused_before_anything_else(registry_service, bob, team_workspace):
    reply = registry_service.post(
        bob.token,
        "workspaces/add_user",
        {"workspace_id": team_workspace, "email": "bob@example.com", "user_type": 3},
    )
    assert reply.status_code == 400 and reply.json()["msg"].startswith("user_type: ")
    with pytest.raises(BadRequest):
        bob.client.add_user(team_workspace, "bob@example.com", user_type="guest")


def test_an_instance_admin_may_do_everything(registry_service, admin, alice):
    henry = _member(registry_service, "henry.admin@example.com")
    workspace = alice.client.create_workspace("roles-admin")
    registry = alice.client.create_registry("alices for admin", UNREACHABLE)
    loose = henry.create_registry("henrys loose", UNREACHABLE)

    listed = {w.id: w.user_type for w in admin.client.list_workspaces()}
    assert listed[workspace] == "admin"
    assert {registry, loose} <= {r.id for r in admin.client.list_registries(attachable=True)}
    admin.client.add_user(workspace, "henry.admin@example.com")
    admin.client.add_user(workspace, "henry.admin@example.com", user_type="owner")
    assert _roles(admin.client, workspace)["henry.admin@example.com"] == "owner"
    assert admin.client.get_registry(registry).id == registry
    admin.client.attach_registry(registry, workspace)
    admin.client.attach_registry(loose, workspace)
    assert {r.id for r in henry.list_registries(workspace)} == {registry, loose}
    admin.client.detach_registry(registry, workspace)
    connected = admin.client.create_registry("admins", UNREACHABLE, workspace_id=workspace)
    assert {r.id for r in alice.client.list_registries(workspace)} == {loose, connected}
    assert admin.client.list_models(workspace) == []
    assert admin.client.remove_user(workspace, "henry.admin@example.com") == 1
    # Admins too keep an owner in every workspace.
    with pytest.raises(Conflict):
        admin.client.remove_user(workspace, "alice@example.com")


def test_user_add_admin_makes_an_admin_and_a_new_token_does_not_demote(registry_service):
    token = registry_service.add_user("ivy.admin@example.com", admin=True)
    again = registry_service.command("user", "add", "ivy.admin@example.com")
    assert "instance admin" in again.stdout.splitlines()[0]
    later = again.stdout.strip().splitlines()[-1]
    for each in (token, later):
        reply = registry_service.post(each, "audit/list", {})
        assert reply.status_code == 200, reply.text
    plain = registry_service.command("user", "add", "jack.plain@example.com")
    assert "instance admin" not in plain.stdout
    reply = registry_service.post(plain.stdout.strip().splitlines()[-1], "audit/list", {})
    assert reply.status_code == 403


def test_collaborators_upload_and_cancel_only_their_own(registry_service, alice):
    kate_token = registry_service.add_user("kate.upload@example.com")
    workspace = alice.client.create_workspace("roles-uploads")
    alice.client.add_user(workspace, "kate.upload@example.com")
    with (
        local_http_server(TrickleFile) as url,
        UploadApi(registry_service.url, alice.token) as owner,
        UploadApi(registry_service.url, kate_token) as kate,
    ):
        registry = owner.connect_registry("trickle", url, "", workspace)
        owners = owner.start(registry, workspace, f"{url}{TRICKLE_PATH}", "owners-upload")
        kates = kate.start(registry, workspace, f"{url}{TRICKLE_PATH}", "kates-upload")
        other = kate.start(registry, workspace, f"{url}{TRICKLE_PATH}", "kates-other")

        refused = kate.cancel(owners)
        assert refused.status_code == 403, refused.text
        assert refused.json()["msg"] == (
            "model_version_id: cancelling another member's upload needs the owner role "
            f"in workspace {workspace}"
        )
        assert owner.upload(owners)["status"] == "uploading"
        mine = kate.cancel(kates)
        assert mine.status_code == 200, mine.text
        assert mine.json()["error"] == "cancelled by kate.upload@example.com"
        by_owner = owner.cancel(other)
        assert by_owner.status_code == 200, by_owner.text
        assert by_owner.json()["error"] == f"cancelled by {alice.email}"
        assert owner.cancel(owners).status_code == 200
