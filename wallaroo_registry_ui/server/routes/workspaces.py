"""``/v1/api/workspaces/*``: the shapes the Wallaroo SDK uses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import AliasChoices, BeforeValidator, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from wallaroo_registry_ui.contract import (
    ADMIN,
    COLLABORATOR,
    WORKSPACE_ROLES,
    AffectedRowsJson,
    EmptyJson,
    WorkspaceCreatedJson,
    WorkspaceJson,
    WorkspaceListJson,
    WorkspaceUserJson,
    WorkspaceUserListJson,
)
from wallaroo_registry_ui.server import audit
from wallaroo_registry_ui.server.access import (
    keep_an_owner,
    member_workspace,
    owner_workspace,
)
from wallaroo_registry_ui.server.body_types import Body, IntId, NonEmptyText
from wallaroo_registry_ui.server.deps import SessionDep, UserDep
from wallaroo_registry_ui.server.errors import ApiError, bad_field, not_found, shown
from wallaroo_registry_ui.server.store import Membership, Model, User, Workspace, iso

router = APIRouter()


class CreateWorkspace(Body):
    workspace_name: NonEmptyText = Field(validation_alias=AliasChoices("workspace_name", "name"))


class WorkspaceRef(Body):
    workspace_id: IntId = Field(validation_alias=AliasChoices("workspace_id", "workspace-id"))


class WorkspaceUser(WorkspaceRef):
    email: NonEmptyText


def _role(value: Any) -> Any:
    """``owner`` or ``collaborator`` in any case (the SDK's enum sends them in capitals)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in WORKSPACE_ROLES:
        return value.strip().lower()
    raise ValueError(f"must be one of {', '.join(WORKSPACE_ROLES)}")


class AddWorkspaceUser(WorkspaceUser):
    """``user_id`` and ``url``, which the SDK also sends, are ignored like any unknown key."""

    user_type: Annotated[str | None, BeforeValidator(_role)] = None


class ListWorkspaces(Body):
    pass


@router.post("/create", response_model=dict)
def create_workspace(
    body: CreateWorkspace, session: SessionDep, user: UserDep
) -> WorkspaceCreatedJson:
    if len(body.workspace_name) > 255:
        raise bad_field("workspace_name", "must be at most 255 characters")
    if session.scalar(select(Workspace.id).where(Workspace.name == body.workspace_name)):
        raise ApiError(409, f"workspace_name: a workspace named '{body.workspace_name}' exists")
    workspace = Workspace(name=body.workspace_name, created_by=user.id)
    session.add(workspace)
    try:
        session.flush()
        session.add(Membership(workspace_id=workspace.id, user_id=user.id, user_type="owner"))
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ApiError(
            409, f"workspace_name: a workspace named '{body.workspace_name}' exists"
        ) from exc
    return WorkspaceCreatedJson(workspace_id=workspace.id)


@router.post("/list", response_model=dict)
def list_workspaces(
    session: SessionDep, user: UserDep, body: ListWorkspaces | None = None
) -> WorkspaceListJson:
    """The caller's workspaces (an instance admin's: every one), each with the caller's role
    in it as ``user_type`` (``admin`` for an instance admin), so a view can offer what the
    role allows."""
    if user.is_admin:
        rows = [(w, ADMIN) for w in session.scalars(select(Workspace).order_by(Workspace.id))]
    else:
        query = (
            select(Workspace, Membership.user_type)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == user.id)
            .order_by(Workspace.id)
        )
        rows = [(w, role) for w, role in session.execute(query)]
    ids = [w.id for w, _ in rows]
    models: dict[int, list[int]] = {i: [] for i in ids}
    if ids:
        for model_id, workspace_id in session.execute(
            select(Model.id, Model.workspace_id)
            .where(Model.workspace_id.in_(ids))
            .order_by(Model.id)
        ):
            models[workspace_id].append(model_id)
    return WorkspaceListJson(
        workspaces=[
            WorkspaceJson(
                id=w.id,
                name=w.name,
                created_at=iso(w.created_at),
                created_by=w.created_by,
                archived=w.archived,
                models=models[w.id],
                pipelines=[],
                user_type=role,
            )
            for w, role in rows
        ]
    )


def _user_by_email(session: SessionDep, email: str) -> User:
    """A user who may sign in: a removed one is as unknown as one never added."""
    user = session.scalar(
        select(User).where(func.lower(User.email) == email.lower(), User.removed_at.is_(None))
    )
    if user is None:
        raise not_found(f"user with email '{shown(email)}'")
    return user


@router.post("/add_user", response_model=dict)
def add_user(body: AddWorkspaceUser, session: SessionDep, user: UserDep) -> EmptyJson:
    """Adds a member (collaborator unless ``user_type`` says owner); for a member already
    there, a ``user_type`` that differs changes their role, and none leaves it as it is."""
    owner_workspace(session, user, body.workspace_id, "adding members")
    added = _user_by_email(session, body.email)
    key = {"workspace_id": body.workspace_id, "user_id": added.id}
    membership = session.get(Membership, key)
    if membership is None:
        role = body.user_type or COLLABORATOR
        session.add(Membership(**key, user_type=role))
        audit.record(
            session,
            user,
            "member_added",
            workspace_id=body.workspace_id,
            detail=f"{added.email} as {role}",
        )
    elif body.user_type is not None and body.user_type != membership.user_type:
        keep_an_owner(session, membership, added.email)
        was, membership.user_type = membership.user_type, body.user_type
        audit.record(
            session,
            user,
            "member_role_changed",
            workspace_id=body.workspace_id,
            detail=f"{added.email} from {was} to {body.user_type}",
        )
    session.commit()
    return EmptyJson()


@router.post("/list_users", response_model=dict)
def list_users(body: WorkspaceRef, session: SessionDep, user: UserDep) -> WorkspaceUserListJson:
    member_workspace(session, user, body.workspace_id)
    rows = session.execute(
        select(User.id, User.email, Membership.user_type)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == body.workspace_id)
        .order_by(User.email)
    ).all()
    return WorkspaceUserListJson(
        users=[WorkspaceUserJson(user_id=i, email=e, user_type=t) for i, e, t in rows]
    )


@router.post("/remove_user", response_model=dict)
def remove_user(body: WorkspaceUser, session: SessionDep, user: UserDep) -> AffectedRowsJson:
    """Owners remove members; any member may leave. The last owner stays (409)."""
    leaving = body.email.lower() == user.email.lower()
    if leaving:
        member_workspace(session, user, body.workspace_id)
    else:
        owner_workspace(session, user, body.workspace_id, "removing members")
    removed = _user_by_email(session, body.email)
    membership = session.get(Membership, {"workspace_id": body.workspace_id, "user_id": removed.id})
    if membership is None:
        return AffectedRowsJson(affected_rows=0)
    keep_an_owner(session, membership, removed.email)
    session.delete(membership)
    how = "left" if leaving else "removed"
    audit.record(
        session,
        user,
        "member_removed",
        workspace_id=body.workspace_id,
        detail=f"{removed.email} ({membership.user_type}) {how}",
    )
    session.commit()
    return AffectedRowsJson(affected_rows=1)
