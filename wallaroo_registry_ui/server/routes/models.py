"""Uploading from a registry, and the models uploaded into workspaces (the SDK's shapes)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import AliasChoices, Field
from sqlalchemy import select

from wallaroo_registry_ui.contract import (
    DEFAULT_PYTHON_VERSION,
    FRAMEWORKS,
    PYTHON_VERSIONS,
    VISIBILITIES,
    ConversionJson,
    FileInfoJson,
    ModelDetailJson,
    ModelFileJson,
    ModelJson,
    ModelListEntryJson,
    ModelListJson,
    ModelListWorkspaceJson,
    SourceJson,
    UploadAnswerJson,
    UploadedModelVersionJson,
    UploadedVersionJson,
    VersionConfigJson,
    WorkspaceRefJson,
    model_name_problem,
    schema_from_base64,
)
from wallaroo_registry_ui.server.access import is_attached, member_workspace, visible_registry
from wallaroo_registry_ui.server.body_types import (
    Body,
    IntId,
    NonEmptyText,
    Text,
    TextList,
    UuidText,
)
from wallaroo_registry_ui.server.deps import ConnectorDep, ServicesDep, SessionDep, UserDep
from wallaroo_registry_ui.server.errors import bad_field, not_found, shown
from wallaroo_registry_ui.server.store import (
    Membership,
    Model,
    ModelVersion,
    Workspace,
    iso,
)
from wallaroo_registry_ui.server.uploads import UploadRequest, upload_from_registry

router = APIRouter()

MAX_SOURCE_VERSION = 64


class Conversion(Body):
    """``requirements`` is required, as in Wallaroo: ``[]`` is how a caller says none."""

    framework: Text
    requirements: TextList
    python_version: Text | None = None
    input_schema: Text | None = None
    output_schema: Text | None = None


class UploadFromRegistry(Body):
    registry_id: UuidText = Field(validation_alias=AliasChoices("registry_id", "id"))
    name: Text
    path: NonEmptyText
    visibility: Text
    workspace_id: IntId = Field(validation_alias=AliasChoices("workspace_id", "workspace-id"))
    conversion: Conversion
    input_schema: Text | None = None
    output_schema: Text | None = None
    model_name: Text | None = None
    model_version: Text | None = None


class ModelsQuery(Body):
    workspace_id: IntId | None = Field(
        default=None, validation_alias=AliasChoices("workspace_id", "workspace-id")
    )
    workspace_name: Text | None = None


class ModelRef(Body):
    id: IntId = Field(validation_alias=AliasChoices("id", "model_id"))


class VersionRef(Body):
    model_version_id: IntId = Field(validation_alias=AliasChoices("model_version_id", "id"))


def _checked_upload(body: UploadFromRegistry) -> UploadRequest:
    """Everything about the request that can be wrong is found before any byte moves."""
    problem = model_name_problem(body.name)
    if problem:
        raise bad_field("name", problem)
    if body.model_version is not None and len(body.model_version) > MAX_SOURCE_VERSION:
        raise bad_field("model_version", f"must be at most {MAX_SOURCE_VERSION} characters")
    if body.visibility not in VISIBILITIES:
        raise bad_field("visibility", f"must be one of {', '.join(VISIBILITIES)}")
    framework = body.conversion.framework
    if framework not in FRAMEWORKS:
        raise bad_field(
            "conversion.framework",
            f"'{shown(framework)}' is not a Wallaroo framework; one of: {', '.join(FRAMEWORKS)}",
        )
    python_version = body.conversion.python_version or DEFAULT_PYTHON_VERSION
    if python_version not in PYTHON_VERSIONS:
        raise bad_field("conversion.python_version", f"must be one of {', '.join(PYTHON_VERSIONS)}")
    schemas = {}
    for key in ("input_schema", "output_schema"):
        top, nested = getattr(body, key), getattr(body.conversion, key)
        value = top if top is not None else nested
        field = key if top is not None else f"conversion.{key}"
        if value:
            try:
                schema_from_base64(value)
            except ValueError as exc:
                raise bad_field(field, str(exc)) from exc
        schemas[key] = value or None
    return UploadRequest(
        name=body.name,
        path=body.path,
        visibility=body.visibility,
        workspace_id=body.workspace_id,
        framework=framework,
        requirements=list(body.conversion.requirements),
        python_version=python_version,
        input_schema=schemas["input_schema"],
        output_schema=schemas["output_schema"],
        model_name=body.model_name,
        model_version=body.model_version,
    )


@router.post("/upload_from_registry", response_model=dict)
def upload(
    body: UploadFromRegistry,
    session: SessionDep,
    user: UserDep,
    svc: ServicesDep,
    open_connector: ConnectorDep,
) -> UploadAnswerJson:
    request = _checked_upload(body)
    registry = visible_registry(session, user, body.registry_id)
    member_workspace(session, user, body.workspace_id)
    if not is_attached(session, registry.id, body.workspace_id):
        raise bad_field(
            "registry_id",
            f"registry {registry.id} is not attached to workspace {body.workspace_id}; "
            "attach it first",
        )
    connector = open_connector(registry)
    version_id = upload_from_registry(session, svc.artifacts, connector, registry, user, request)
    return UploadAnswerJson(model_id=version_id)


def version_config(version: ModelVersion) -> VersionConfigJson:
    """The SDK's config of a version; a schema only where the upload gave one."""
    config = VersionConfigJson(id=version.id, model_version_id=version.id, runtime=version.runtime)
    if version.input_schema:
        config["input_schema"] = version.input_schema
    if version.output_schema:
        config["output_schema"] = version.output_schema
    return config


def version_record(version: ModelVersion, model: Model) -> UploadedModelVersionJson:
    """The SDK's MVC shape: a model version with its config."""
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
                size=version.size,
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


def model_entry(
    model: Model, versions: list[ModelVersion], workspace: Workspace
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
        model_versions=[version_record(v, model) for v in versions],
        workspace=ModelListWorkspaceJson(
            id=model.workspace_id,
            name=workspace.name,
            created_at=iso(workspace.created_at),
            archived=workspace.archived,
        ),
    )


def _member_workspace_ids(session: SessionDep, user: UserDep) -> list[int]:
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
    if models:
        for version in session.scalars(
            select(ModelVersion)
            .where(ModelVersion.model_id.in_(list(versions)))
            .order_by(ModelVersion.id)
        ):
            versions[version.model_id].append(version)
    workspaces = {
        w.id: w for w in session.scalars(select(Workspace).where(Workspace.id.in_(workspace_ids)))
    }
    return ModelListJson(
        models=[model_entry(m, versions[m.id], workspaces[m.workspace_id]) for m in models]
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
    return version_record(version, model)
