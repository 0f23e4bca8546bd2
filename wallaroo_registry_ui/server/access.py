"""Who may see and do what: the rules of the contract, in one place.

A registry is visible to its creator and to members of every workspace it is attached to;
an unknown id and an invisible one get the same 404, so ids cannot be probed. In a workspace,
owners manage members and registries and collaborators browse and upload; instance admins
may do everything, everywhere. A forbidden call is a 403 that names the role it needs.
"""

from __future__ import annotations

from sqlalchemy import exists, or_, select, true
from sqlalchemy.orm import Session

from wallaroo_registry_ui.contract import ADMIN, OWNER
from wallaroo_registry_ui.server.errors import ApiError, forbidden, not_found
from wallaroo_registry_ui.server.store import (
    Membership,
    ModelVersion,
    Registry,
    RegistryAttachment,
    User,
    Workspace,
)


def workspace_role(session: Session, user: User, workspace_id: int) -> str | None:
    """``admin`` for an instance admin, else the member's role, or None for a non-member."""
    if user.is_admin:
        return ADMIN
    membership = session.get(Membership, {"workspace_id": workspace_id, "user_id": user.id})
    return membership.user_type if membership is not None else None


def is_member(session: Session, user: User, workspace_id: int) -> bool:
    """May enter the workspace: a member of it, or an instance admin."""
    return workspace_role(session, user, workspace_id) is not None


def member_workspace(session: Session, user: User, workspace_id: int) -> Workspace:
    """The workspace, if it exists (404) and the caller belongs to it (403)."""
    workspace = session.get(Workspace, workspace_id)
    if workspace is None:
        raise not_found(f"workspace {workspace_id}")
    if not is_member(session, user, workspace_id):
        raise forbidden(f"workspace_id: you are not a member of workspace {workspace_id}")
    return workspace


def owner_workspace(session: Session, user: User, workspace_id: int, doing: str) -> Workspace:
    """The workspace, if the caller is one of its owners or an instance admin; ``doing``
    says what needs it ("adding members"), for the 403."""
    workspace = member_workspace(session, user, workspace_id)
    role = workspace_role(session, user, workspace_id)
    if role not in (OWNER, ADMIN):
        raise forbidden(
            f"workspace_id: {doing} needs the owner role in workspace {workspace_id} "
            f"(you are a {role})"
        )
    return workspace


def require_admin(user: User, doing: str) -> None:
    """403 unless the caller is an instance admin."""
    if not user.is_admin:
        raise forbidden(f"{doing} needs the instance admin role")


def keep_an_owner(session: Session, leaving: Membership, email: str) -> None:
    """409 when ``leaving`` is the workspace's last owner (removed, or made a collaborator):
    a workspace without an owner could never be managed again."""
    if leaving.user_type != OWNER:
        return
    owners = session.scalars(
        select(Membership.user_id)
        .where(Membership.workspace_id == leaving.workspace_id, Membership.user_type == OWNER)
        .with_for_update()
    ).all()
    if len(owners) <= 1:
        raise ApiError(
            409,
            f"email: {email} is the last owner of workspace {leaving.workspace_id}; "
            "make another member an owner first",
        )


def visible_registries_clause(user: User):  # type: ignore[no-untyped-def]
    """SQL condition on Registry rows this user may see."""
    if user.is_admin:
        return true()
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
    registry = visible_registry(session, user, registry_id)
    if registry.created_by != user.id and not user.is_admin:
        creator = session.get(User, registry.created_by)
        who = creator.email if creator is not None else registry.created_by
        raise forbidden(
            f"registry_id: only the registry's creator ({who}) or an instance admin may "
            f"change or delete registry {registry_id}"
        )
    return registry


def attachable_registries_clause(user: User):  # type: ignore[no-untyped-def]
    """SQL condition on Registry rows this user may attach to a workspace they own: the ones
    they created (every one, for an instance admin)."""
    return true() if user.is_admin else Registry.created_by == user.id


def attachable_registry(
    session: Session, user: User, registry_id: str, workspace_id: int
) -> Registry:
    """A registry the caller may attach to the workspace: one they see (404), in a workspace
    they own (403), and one they created, unless they are an instance admin (403): being able
    to use a registry somewhere is not leave to hand its credential to another workspace."""
    registry = visible_registry(session, user, registry_id)
    owner_workspace(session, user, workspace_id, "attaching a registry")
    if not session.scalar(
        select(exists().where(Registry.id == registry.id, attachable_registries_clause(user)))
    ):
        raise forbidden(
            f"registry_id: only the creator of registry {registry.id} or an instance admin "
            "may attach it to a workspace"
        )
    return registry


def may_cancel(session: Session, user: User, version: ModelVersion, workspace_id: int) -> None:
    """Members cancel their own uploads; owners and admins anyone's in the workspace (403)."""
    if version.created_by == user.id:
        return
    if workspace_role(session, user, workspace_id) not in (OWNER, ADMIN):
        raise forbidden(
            f"model_version_id: cancelling another member's upload needs the owner role "
            f"in workspace {workspace_id}"
        )


def is_attached(session: Session, registry_id: str, workspace_id: int) -> bool:
    key = {"registry_id": registry_id, "workspace_id": workspace_id}
    return session.get(RegistryAttachment, key) is not None
