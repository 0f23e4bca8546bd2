"""Who may see what: the rules of the contract, in one place.

A registry is visible to its creator and to members of every workspace it is attached to;
an unknown id and an invisible one get the same 404, so ids cannot be probed.
"""

from __future__ import annotations

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from wallaroo_registry_ui.server.errors import forbidden, not_found
from wallaroo_registry_ui.server.store import (
    Membership,
    Registry,
    RegistryAttachment,
    User,
    Workspace,
)


def is_member(session: Session, user: User, workspace_id: int) -> bool:
    return session.get(Membership, {"workspace_id": workspace_id, "user_id": user.id}) is not None


def member_workspace(session: Session, user: User, workspace_id: int) -> Workspace:
    """The workspace, if it exists (404) and the caller belongs to it (403)."""
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise not_found(f"workspace {workspace_id}")
    if not is_member(session, user, workspace_id):
        raise forbidden(f"workspace_id: you are not a member of workspace {workspace_id}")
    return workspace


def visible_registries_clause(user: User):  # type: ignore[no-untyped-def]
    """SQL condition on Registry rows this user may see."""
    via_workspace = exists().where(
        RegistryAttachment.registry_id == Registry.id,
        Membership.workspace_id == RegistryAttachment.workspace_id,
        Membership.user_id == user.id,
    )
    return or_(Registry.created_by == user.id, via_workspace)


def visible_registry(session: Session, user: User, registry_id: str) -> Registry:
    registry = session.scalar(
        select(Registry).where(Registry.id == registry_id, visible_registries_clause(user))
    )
    if registry is None:
        raise not_found(f"registry {registry_id}")
    return registry


def changeable_registry(session: Session, user: User, registry_id: str) -> Registry:
    """A registry the caller may update or delete: its creator, or an instance admin.

    Who cannot see it gets the 404 of every registry call; who can but did not create it, a
    403 naming who may.
    """
    if user.is_admin:
        registry = session.get(Registry, registry_id)
        if registry is None:
            raise not_found(f"registry {registry_id}")
        return registry
    registry = visible_registry(session, user, registry_id)
    if registry.created_by != user.id:
        creator = session.get(User, registry.created_by)
        who = creator.email if creator is not None else registry.created_by
        raise forbidden(
            f"registry_id: only the registry's creator ({who}) or an instance admin may "
            f"change or delete registry {registry_id}"
        )
    return registry


def is_attached(session: Session, registry_id: str, workspace_id: int) -> bool:
    key = {"registry_id": registry_id, "workspace_id": workspace_id}
    return session.get(RegistryAttachment, key) is not None
