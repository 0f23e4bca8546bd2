"""Uploads from a registry as jobs: asked for (answered at once), followed, cancelled, listed.

Mounted under ``/v1/api/models`` through the models router. Everything about an upload
request that can be wrong is answered here, before anything is recorded; the bytes are
fetched by the upload runner (``server/upload_runner.py``).
"""

from __future__ import annotations

import time

from fastapi import APIRouter
from pydantic import AliasChoices, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from wallaroo_registry_ui.contract import (
    DEFAULT_PYTHON_VERSION,
    FRAMEWORKS,
    PYTHON_VERSIONS,
    UPLOAD_STATUSES,
    VISIBILITIES,
    UploadAnswerJson,
    UploadJson,
    UploadListJson,
    model_name_problem,
    schema_from_base64,
)
from wallaroo_registry_ui.server import audit
from wallaroo_registry_ui.server import upload_jobs as jobs
from wallaroo_registry_ui.server.access import (
    is_attached,
    is_member,
    may_cancel,
    member_workspace,
    visible_registry,
)
from wallaroo_registry_ui.server.body_types import (
    Body,
    IntId,
    NonEmptyText,
    Text,
    TextList,
    UuidText,
)
from wallaroo_registry_ui.server.deps import (
    RegistryCallDep,
    Services,
    ServicesDep,
    SessionDep,
    UserDep,
)
from wallaroo_registry_ui.server.errors import ApiError, bad_field, not_found, shown
from wallaroo_registry_ui.server.openapi_errors import REGISTRY_CALL_RESPONSES
from wallaroo_registry_ui.server.store import (
    Model,
    ModelVersion,
    Registry,
    UploadJob,
    User,
    utcnow,
)
from wallaroo_registry_ui.server.upload_space import UploadSpace, reserved_bytes
from wallaroo_registry_ui.server.uploads import UploadRequest, listed_size, record_upload

router = APIRouter()

MAX_SOURCE_VERSION = 64
CANCEL_WAIT_SECONDS = 5.0
"""How long a cancel waits for the transfer to stop before it answers anyway (the upload is
``error`` already; a holder that has not let go by then removes its bytes when it does)."""
CANCEL_POLL_SECONDS = 0.05


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


class UploadRef(Body):
    model_version_id: IntId = Field(validation_alias=AliasChoices("model_version_id", "id"))


class UploadsQuery(Body):
    workspace_id: IntId = Field(validation_alias=AliasChoices("workspace_id", "workspace-id"))
    status: Text | None = None


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


@router.post("/upload_from_registry", response_model=dict, responses=REGISTRY_CALL_RESPONSES)
def upload(
    body: UploadFromRegistry,
    session: SessionDep,
    user: UserDep,
    svc: ServicesDep,
    call: RegistryCallDep,
) -> UploadAnswerJson:
    """Checks the request, records the version ``uploading`` and answers its id at once.

    The checks run twice, in two short transactions with the registry's answer (the path,
    the file's size) between them and no database connection held while it comes; the
    second time, just before the version is recorded, so what changed meanwhile counts.
    """
    request = _checked_upload(body)
    registry = _upload_target(session, user, body)
    with call.upload_check(registry) as connector:
        provenance = connector.check_path(request.path)
        size = listed_size(connector, provenance, request.path)
    registry = _upload_target(session, user, body)
    if size is not None:
        space = UploadSpace(svc.artifacts.root, svc.limits.max_upload_size)
        problem = space.problem(size, reserved_bytes(session))
        if problem:
            raise ApiError(507, f"path: {problem}")
    version_id = record_upload(session, provenance, registry, user, request, size)
    svc.uploads.wake()
    return UploadAnswerJson(model_id=version_id)


def _upload_target(session: Session, user: User, body: UploadFromRegistry) -> Registry:
    """The registry to upload from, when the caller may use it for that workspace."""
    registry = visible_registry(session, user, body.registry_id)
    member_workspace(session, user, body.workspace_id)
    if not is_attached(session, registry.id, body.workspace_id):
        raise bad_field(
            "registry_id",
            f"registry {registry.id} is not attached to workspace {body.workspace_id}; "
            "attach it first",
        )
    return registry


def visible_upload(session: Session, user: User, version_id: int) -> tuple[UploadJob, Model]:
    """An upload and its model, when the caller is a member of its workspace; the same 404
    for one that does not exist and one the caller may not see."""
    row = session.execute(
        select(UploadJob, Model)
        .join(ModelVersion, ModelVersion.id == UploadJob.model_version_id)
        .join(Model, Model.id == ModelVersion.model_id)
        .where(UploadJob.model_version_id == version_id)
    ).first()
    if row is None or not is_member(session, user, row.Model.workspace_id):
        raise not_found(f"model version {version_id}")
    return row.UploadJob, row.Model


@router.post("/get_upload", response_model=dict)
def get_upload(body: UploadRef, session: SessionDep, user: UserDep) -> UploadJson:
    job, _ = visible_upload(session, user, body.model_version_id)
    return jobs.upload_json(job)


@router.post("/cancel_upload", response_model=dict)
def cancel_upload(
    body: UploadRef, session: SessionDep, user: UserDep, svc: ServicesDep
) -> UploadJson:
    """Ends the upload as cancelled, then waits (a few seconds at most) for its transfer to
    stop and its bytes to go; 409 for an upload that had already ended. Members cancel their
    own uploads, owners and admins anyone's (403)."""
    version_id = body.model_version_id
    job, model = visible_upload(session, user, version_id)
    version = session.get(ModelVersion, version_id)
    may_cancel(session, user, version, model.workspace_id)
    version_uuid = version.version
    # Pending in the session: stored by the cancel's commit, dropped by its rollback.
    audit.record(
        session,
        user,
        "upload_cancelled",
        workspace_id=model.workspace_id,
        registry_id=version.source_registry_id,
        model_version_id=version_id,
        detail=model.name,
    )
    if not jobs.cancel(session, version_id, user.email):
        session.refresh(job)
        raise ApiError(
            409,
            f"model_version_id: the upload of model version {version_id} has already ended "
            f"({job.status})",
        )
    svc.uploads.interrupt(version_id)
    _wait_until_let_go(svc, version_id)
    svc.artifacts.remove_idle_staging(version_uuid)
    session.expire_all()
    job, _ = visible_upload(session, user, version_id)
    return jobs.upload_json(job)


def _wait_until_let_go(svc: Services, version_id: int) -> None:
    """Until no live process holds the upload's lease (its transfer has stopped)."""
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    host = svc.uploads.host
    while time.monotonic() < deadline:
        state = jobs.lease_state(svc.sessions, version_id)
        if state is None or not state.live(utcnow(), host):
            return
        time.sleep(CANCEL_POLL_SECONDS)


@router.post("/list_uploads", response_model=dict)
def list_uploads(body: UploadsQuery, session: SessionDep, user: UserDep) -> UploadListJson:
    """A workspace's uploads, newest first; ``status`` keeps those in that status."""
    if body.status is not None and body.status not in UPLOAD_STATUSES:
        raise bad_field("status", f"must be one of {', '.join(UPLOAD_STATUSES)}")
    member_workspace(session, user, body.workspace_id)
    query = (
        select(UploadJob, Model.name)
        .join(ModelVersion, ModelVersion.id == UploadJob.model_version_id)
        .join(Model, Model.id == ModelVersion.model_id)
        .where(Model.workspace_id == body.workspace_id)
        .order_by(UploadJob.started_at.desc(), UploadJob.model_version_id.desc())
    )
    if body.status is not None:
        query = query.where(UploadJob.status == body.status)
    return UploadListJson(
        uploads=[
            jobs.upload_list_entry(job, name, body.workspace_id)
            for job, name in session.execute(query).all()
        ]
    )
