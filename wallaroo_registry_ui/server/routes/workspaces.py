"""``/v1/api/workspaces/*``: the shapes the Wallaroo SDK uses."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import AliasChoices, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from wallaroo_registry_ui.contract import (
    AffectedRowsJson,
    EmptyJson,
    WorkspaceCreatedJson,
    WorkspaceJson,
    WorkspaceListJson,
    WorkspaceUserJson,
    WorkspaceUserListJson,
)
from wallaroo_registry_ui.server.access import member_workspace
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
    rows = session.scalars(
        select(Workspace)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user.id)
        .order_by(Workspace.id)
    ).all()
    ids = [w.id for w in rows]
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
            )
            for w in rows
        ]
    )


def _user_by_email(session: SessionDep, email: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    if user is None:
        raise not_found(f"user with email '{shown(email)}'")
    return user


@router.post("/add_user", response_model=dict)
def add_user(body: WorkspaceUser, session: SessionDep, user: UserDep) -> EmptyJson:
    member_workspace(session, user, body.workspace_id)
    added = _user_by_email(session, body.email)
    key = {"workspace_id": body.workspace_id, "user_id": added.id}
    if session.get(Membership, key) is None:
        session.add(Membership(**key, user_type="collaborator"))
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
    member_workspace(session, user, body.workspace_id)
    removed = _user_by_email(session, body.email)
    membership = session.get(Membership, {"workspace_id": body.workspace_id, "user_id": removed.id})
    if membership is None:
        return AffectedRowsJson(affected_rows=0)
    session.delete(membership)
    session.commit()
    return AffectedRowsJson(affected_rows=1)
