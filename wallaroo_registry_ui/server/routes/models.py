"""The models uploaded into workspaces (the SDK's shapes), in every status; the upload calls
themselves are ``routes/uploads.py``, mounted here."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import AliasChoices, Field
from sqlalchemy import select

from wallaroo_registry_ui.contract import (
    ConversionJson,
    FileInfoJson,
    ModelDetailJson,
    ModelFileJson,
    ModelJson,
    ModelListEntryJson,
    ModelListJson,
    ModelListWorkspaceJson,
    SourceJson,
    UploadedModelVersionJson,
    UploadedVersionJson,
    VersionConfigJson,
    WorkspaceRefJson,
)
from wallaroo_registry_ui.server.access import member_workspace
from wallaroo_registry_ui.server.body_types import Body, IntId, Text
from wallaroo_registry_ui.server.deps import SessionDep, UserDep
from wallaroo_registry_ui.server.errors import not_found, shown
from wallaroo_registry_ui.server.routes import uploads
from wallaroo_registry_ui.server.store import (
    Membership,
    Model,
    ModelVersion,
    UploadJob,
    Workspace,
    iso,
)
from wallaroo_registry_ui.server.upload_jobs import UPLOADING

router = APIRouter()
router.include_router(uploads.router)


class ModelsQuery(Body):
    workspace_id: IntId | None = Field(
        default=None, validation_alias=AliasChoices("workspace_id", "workspace-id")
    )
    workspace_name: Text | None = None


class ModelRef(Body):
    id: IntId = Field(validation_alias=AliasChoices("id", "model_id"))


class VersionRef(Body):
    model_version_id: IntId = Field(validation_alias=AliasChoices("model_version_id", "id"))


def version_config(version: ModelVersion) -> VersionConfigJson:
    """The SDK's config of a version; a schema only where the upload gave one."""
    config = VersionConfigJson(id=version.id, model_version_id=version.id, runtime=version.runtime)
    if version.input_schema:
        config["input_schema"] = version.input_schema
    if version.output_schema:
        config["output_schema"] = version.output_schema
    return config


def version_record(
    version: ModelVersion, model: Model, stored: dict[int, int] | None = None
) -> UploadedModelVersionJson:
    """The SDK's MVC shape: a model version with its config. While it is uploading its size
    is the bytes stored so far (``stored``, by version id) and its sha ``""``."""
    size = version.size
    if version.status == UPLOADING:
        size = (stored or {}).get(version.id, 0)
    return UploadedModelVersionJson(
        model_version=UploadedVersionJson(
            id=version.id,
            name=model.name,
            status=version.status,
            visibility=version.visibility,
            workspace_id=model.workspace_id,
            file_info=FileInfoJson(
                file_name=version.file_name,
                sha=version.sha,
                size=size,
                version=version.version,
            ),
            conversion=ConversionJson(
                framework=version.framework,
                python_version=version.python_version,
                requirements=list(version.requirements or []),
            ),
            created_at=iso(version.created_at),
            created_by=version.created_by,
            source=SourceJson(
                registry_id=version.source_registry_id,
                model_name=version.source_model_name,
                version=version.source_version,
                path=version.source_path,
            ),
        ),
        config=version_config(version),
    )


def stored_bytes(session: SessionDep, versions: list[ModelVersion]) -> dict[int, int]:
    """The bytes stored so far of those of ``versions`` that are uploading, by version id."""
    uploading = [v.id for v in versions if v.status == UPLOADING]
    if not uploading:
        return {}
    rows = session.execute(
        select(UploadJob.model_version_id, UploadJob.bytes_done).where(
            UploadJob.model_version_id.in_(uploading)
        )
    )
    return {version_id: done for version_id, done in rows}


def model_entry(
    model: Model,
    versions: list[ModelVersion],
    workspace: Workspace,
    stored: dict[int, int] | None = None,
) -> ModelListEntryJson:
    """An entry of ``models/list``: the model, its versions, its workspace."""
    return ModelListEntryJson(
        model=ModelJson(
            id=model.id,
            name=model.name,
            owner_id=model.owner_id,
            workspace_id=model.workspace_id,
            created_at=iso(model.created_at),
            updated_at=iso(model.updated_at),
        ),
        model_versions=[version_record(v, model, stored) for v in versions],
        workspace=ModelListWorkspaceJson(
            id=model.workspace_id,
            name=workspace.name,
            created_at=iso(workspace.created_at),
            archived=workspace.archived,
        ),
    )


def _member_workspace_ids(session: SessionDep, user: UserDep) -> list[int]:
    """The workspaces whose models the caller sees: their own, or every one for an admin."""
    if user.is_admin:
        return list(session.scalars(select(Workspace.id)))
    return list(
        session.scalars(select(Membership.workspace_id).where(Membership.user_id == user.id))
    )


@router.post("/list", response_model=dict)
def list_models(body: ModelsQuery, session: SessionDep, user: UserDep) -> ModelListJson:
    if body.workspace_id is not None:
        workspace_ids = [member_workspace(session, user, body.workspace_id).id]
    elif body.workspace_name is not None:
        workspace = session.scalar(select(Workspace).where(Workspace.name == body.workspace_name))
        if workspace is None:
            raise not_found(f"workspace named '{shown(body.workspace_name)}'")
        workspace_ids = [member_workspace(session, user, workspace.id).id]
    else:
        workspace_ids = _member_workspace_ids(session, user)
    models = session.scalars(
        select(Model).where(Model.workspace_id.in_(workspace_ids)).order_by(Model.id)
    ).all()
    versions: dict[int, list[ModelVersion]] = {m.id: [] for m in models}
    stored: dict[int, int] = {}
    if models:
        for version in session.scalars(
            select(ModelVersion)
            .where(ModelVersion.model_id.in_(list(versions)))
            .order_by(ModelVersion.id)
        ):
            versions[version.model_id].append(version)
        stored = stored_bytes(session, [v for listed in versions.values() for v in listed])
    workspaces = {
        w.id: w for w in session.scalars(select(Workspace).where(Workspace.id.in_(workspace_ids)))
    }
    return ModelListJson(
        models=[model_entry(m, versions[m.id], workspaces[m.workspace_id], stored) for m in models]
    )


def _visible_model(session: SessionDep, user: UserDep, model_id: int, what: str = "") -> Model:
    model = session.get(Model, model_id)
    if model is None or model.workspace_id not in _member_workspace_ids(session, user):
        raise not_found(what or f"model {model_id}")
    return model


@router.post("/get", response_model=dict)
def get_model(body: ModelRef, session: SessionDep, user: UserDep) -> ModelDetailJson:
    model = _visible_model(session, user, body.id)
    workspace = session.get(Workspace, model.workspace_id)
    versions = session.scalars(
        select(ModelVersion).where(ModelVersion.model_id == model.id).order_by(ModelVersion.id)
    ).all()
    return ModelDetailJson(
        id=model.id,
        name=model.name,
        owner_id=model.owner_id,
        created_at=iso(model.created_at),
        updated_at=iso(model.updated_at),
        workspace=WorkspaceRefJson(id=workspace.id, name=workspace.name),
        models=[
            ModelFileJson(
                id=v.id,
                model_version=v.version,
                model_id=model.name,
                models_pk_id=model.id,
                sha=v.sha,
                owner_id=v.created_by,
                file_name=v.file_name,
            )
            for v in versions
        ],
    )


@router.post("/get_version", response_model=dict)
def get_version(body: VersionRef, session: SessionDep, user: UserDep) -> UploadedModelVersionJson:
    version = session.get(ModelVersion, body.model_version_id)
    if version is None:
        raise not_found(f"model version {body.model_version_id}")
    model = _visible_model(
        session, user, version.model_id, f"model version {body.model_version_id}"
    )
    return version_record(version, model, stored_bytes(session, [version]))
