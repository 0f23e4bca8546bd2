"""A second user sees and touches nothing of the first user's registries, workspaces, models."""

from __future__ import annotations

import pytest

from wallaroo_registry_ui.client.errors import Forbidden, NotFound


def test_other_users_cannot_see_or_touch(alice, bob, team_workspace, mlflow_registry):
    bob_workspace = bob.client.create_workspace("bob-space")
    attached_before = [w.id for w in alice.client.get_registry(mlflow_registry).workspaces]
    assert team_workspace in attached_before

    assert team_workspace not in [w.id for w in bob.client.list_workspaces()]
    assert mlflow_registry not in [r.id for r in bob.client.list_registries(bob_workspace)]

    with pytest.raises(NotFound):
        bob.client.get_registry(mlflow_registry)
    with pytest.raises(NotFound):
        bob.client.list_registry_models(mlflow_registry)
    with pytest.raises(NotFound):
        bob.client.list_model_versions(mlflow_registry, "wine_quality")
    with pytest.raises(NotFound):
        bob.client.list_artifacts(mlflow_registry, "wine_quality", "1")
    with pytest.raises(NotFound):
        bob.client.attach_registry(mlflow_registry, bob_workspace)
    with pytest.raises(Forbidden):
        bob.client.list_registries(team_workspace)
    with pytest.raises(Forbidden):
        bob.client.list_users(team_workspace)
    with pytest.raises(Forbidden):
        bob.client.add_user(team_workspace, bob.email)
    with pytest.raises(NotFound):
        bob.client.detach_registry(mlflow_registry, team_workspace)
    with pytest.raises(Forbidden):
        bob.client.list_models(workspace_id=team_workspace)
    # Either answer is right: Bob may not see the registry (404), nor write to the
    # workspace (403); what matters is that nothing was uploaded.
    with pytest.raises((Forbidden, NotFound)):
        bob.client.upload_from_registry(
            mlflow_registry,
            name="stolen",
            path="mlflow-artifacts:/x",
            workspace_id=team_workspace,
            framework="sklearn",
        )
    assert "stolen" not in [m.name for m in alice.client.list_models(team_workspace)]
    # Alice's registry was not attached to Bob's workspace by any of that.
    attached = alice.client.get_registry(mlflow_registry).workspaces
    assert [w.id for w in attached] == attached_before
    # Bob's own registry is invisible to Alice.
    bobs = bob.client.create_registry(
        "bob mlflow", "http://127.0.0.1:9", workspace_id=bob_workspace
    )
    with pytest.raises(NotFound):
        alice.client.get_registry(bobs)
    assert bobs not in [r.id for r in alice.client.list_registries()]


def test_membership_grants_and_removal_revokes(registry_service, alice, team_workspace):
    carol_token = registry_service.add_user("carol@example.com")
    carol = registry_service.client(carol_token)
    shared = alice.client.create_workspace("shared-space")
    registry = alice.client.create_registry("shared reg", "http://127.0.0.1:9")
    with pytest.raises(NotFound):
        carol.get_registry(registry)

    alice.client.attach_registry(registry, shared)
    alice.client.add_user(shared, "carol@example.com")
    users = {u.email: u.user_type for u in alice.client.list_users(shared)}
    assert users == {"alice@example.com": "owner", "carol@example.com": "collaborator"}
    assert carol.get_registry(registry).id == registry
    assert registry in [r.id for r in carol.list_registries(shared)]

    assert alice.client.remove_user(shared, "carol@example.com") == 1
    assert alice.client.remove_user(shared, "carol@example.com") == 0
    with pytest.raises(NotFound):
        carol.get_registry(registry)
    with pytest.raises(NotFound):
        alice.client.add_user(shared, "nobody@example.com")


def test_detach_hides_registry_from_workspace(alice, team_workspace):
    registry = alice.client.create_registry("detachable", "http://127.0.0.1:9")
    alice.client.attach_registry(registry, team_workspace)
    assert registry in [r.id for r in alice.client.list_registries(team_workspace)]
    alice.client.detach_registry(registry, team_workspace)
    assert registry not in [r.id for r in alice.client.list_registries(team_workspace)]
    assert alice.client.get_registry(registry).workspaces == []
