"""Hub users as service users: made on first sight, kept in step with the hub on each
sign-in (instance admin while a hub admin; with ``--hub-group-workspaces``, a member of
the workspace of each of their hub groups and of no group's they have left).

A hub user's key in the ``email`` column is ``hub:<hub name>``: it names them in the audit
trail and in ``workspaces/add_user``, and ``user add`` refuses it, so no API-token user can
ever be taken for a hub user.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from wallaroo_registry_ui.contract import COLLABORATOR, OWNER
from wallaroo_registry_ui.server import audit
from wallaroo_registry_ui.server.hub_sign_in import HubIdentity
from wallaroo_registry_ui.server.store import HubGroupWorkspace, Membership, User, Workspace
from wallaroo_registry_ui.server.users import HUB_USER_PREFIX

HUB_ACTOR = "JupyterHub"


def hub_user_key(name: str) -> str:
    """What the ``email`` column holds for the hub user ``name``."""
    return HUB_USER_PREFIX + name


def default_workspace_name(name: str) -> str:
    """As Wallaroo names a user's first workspace."""
    return f"{name} - Default Workspace"


def sign_in_hub_user(
    sessions: sessionmaker, identity: HubIdentity, *, group_workspaces: bool
) -> User:
    """The service user of ``identity``, made or brought in step with what the hub said.
    Two first calls at once: the one that loses the race on the new rows tries again."""
    for attempt in range(3):
        try:
            with sessions.begin() as session:
                user = _in_step(session, identity, group_workspaces)
            return user
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _in_step(session: Session, identity: HubIdentity, group_workspaces: bool) -> User:
    key = hub_user_key(identity.name)
    user = session.scalar(select(User).where(User.email == key))
    if user is None:
        user = User(email=key, is_admin=identity.admin)
        session.add(user)
        session.flush()
        audit.record(
            session, HUB_ACTOR, "user_added",
            detail=f"{key}: new user signed in by the hub"
            + (", instance admin" if identity.admin else ""),
        )  # fmt: skip
        _default_workspace(session, user, identity.name)
    elif user.removed_at is not None:
        return user
    elif user.is_admin != identity.admin:
        user.is_admin = identity.admin
        audit.record(
            session, HUB_ACTOR, "user_admin_changed",
            detail=f"{key}: instance admin {'now' if identity.admin else 'no longer'} "
            "(as in the hub)",
        )  # fmt: skip
    if group_workspaces:
        _group_memberships(session, user, identity)
    return user


def _default_workspace(session: Session, user: User, name: str) -> None:
    wanted = default_workspace_name(name)
    if session.scalar(select(Workspace.id).where(Workspace.name == wanted)) is not None:
        return
    workspace = Workspace(name=wanted, created_by=user.id)
    session.add(workspace)
    session.flush()
    session.add(Membership(workspace_id=workspace.id, user_id=user.id, user_type=OWNER))
    audit.record(
        session, HUB_ACTOR, "workspace_created", workspace_id=workspace.id,
        detail=f"{wanted}, for {user.email}",
    )  # fmt: skip


def _group_memberships(session: Session, user: User, identity: HubIdentity) -> None:
    """Joins the workspace of each group (made if new), leaves those of groups left."""
    role = OWNER if identity.admin else COLLABORATOR
    for group in identity.groups:
        workspace_id = session.scalar(
            select(HubGroupWorkspace.workspace_id).where(HubGroupWorkspace.group_name == group)
        )
        if workspace_id is None:
            workspace_id = _group_workspace(session, user, group)
        key = {"workspace_id": workspace_id, "user_id": user.id}
        membership = session.get(Membership, key)
        if membership is None:
            session.add(Membership(**key, user_type=role))
            audit.record(
                session, HUB_ACTOR, "member_added", workspace_id=workspace_id,
                detail=f"{user.email} as {role} (hub group {group})",
            )  # fmt: skip
        elif identity.admin and membership.user_type != OWNER:
            membership.user_type = OWNER
    left = session.scalars(
        select(Membership)
        .join(HubGroupWorkspace, HubGroupWorkspace.workspace_id == Membership.workspace_id)
        .where(
            Membership.user_id == user.id,
            HubGroupWorkspace.group_name.not_in(identity.groups),
        )
    ).all()
    for membership in left:
        session.delete(membership)
        audit.record(
            session, HUB_ACTOR, "member_removed", workspace_id=membership.workspace_id,
            detail=f"{user.email} (no longer in the hub group)",
        )  # fmt: skip


def _group_workspace(session: Session, user: User, group: str) -> int:
    """The group's new workspace, named after it (``<group> (hub group)`` when a workspace
    of that name exists already and is no group's)."""
    name = group
    if session.scalar(select(Workspace.id).where(Workspace.name == name)) is not None:
        name = f"{group} (hub group)"
    workspace = Workspace(name=name, created_by=user.id)
    session.add(workspace)
    session.flush()
    session.add(HubGroupWorkspace(workspace_id=workspace.id, group_name=group))
    audit.record(
        session, HUB_ACTOR, "workspace_created", workspace_id=workspace.id,
        detail=f"{name}, for the hub group {group}",
    )  # fmt: skip
    return workspace.id
