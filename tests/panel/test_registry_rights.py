"""What the panel offers with registries for each role, and the words that say why not."""

from __future__ import annotations

from wallaroo_registry_ui.panel.registry_rights import registry_rights


def test_owners_admins_and_unknown_roles_are_offered_everything():
    for role in ("owner", "admin", ""):
        rights = registry_rights(role)
        assert rights == {"connect": "", "attach": "", "detach": "", "note": ""}, role
    assert registry_rights("admin", not_attachable=3)["note"] == ""


def test_a_collaborator_is_told_each_action_needs_the_owner_role():
    rights = registry_rights("collaborator", not_attachable=2)
    assert rights["connect"] == (
        "Connecting a registry to this workspace needs the owner role in this workspace; "
        "you are a collaborator."
    )
    assert rights["attach"].startswith("Attaching a registry needs the owner role")
    assert rights["detach"].startswith("Detaching a registry needs the owner role")
    assert rights["note"] == (
        "You are a collaborator in this workspace: you can browse and upload; connecting, "
        "attaching and detaching registries needs the owner role."
    )


def test_an_owner_is_told_why_some_registries_cannot_be_attached():
    assert registry_rights("owner", not_attachable=1)["note"] == (
        "1 registry you can use was connected by someone else: only its creator or an "
        "instance admin can attach it to another workspace."
    )
    two = registry_rights("owner", not_attachable=2)
    assert two["note"].startswith("2 registries you can use were connected by someone else")
    assert two["attach"] == ""
