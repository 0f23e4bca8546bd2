"""Bringing one registry file into a workspace as a model version, all or nothing.

The file is streamed into the artifact store while hashed; the model rows are written only
after the bytes are whole, and a failure at any step removes whatever was written.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallaroo_registry_ui.server.artifacts import ArtifactStore, IncompleteArtifact, StagedFile
from wallaroo_registry_ui.server.connectors.base import (
    ArtifactDownload,
    RegistryConnector,
    UpstreamError,
)
from wallaroo_registry_ui.server.errors import ApiError
from wallaroo_registry_ui.server.store import Model, ModelVersion, Registry, User, new_uuid, utcnow

NATIVE_RUNTIMES = {"onnx": "onnx", "tensorflow": "tensorflow", "mlflow": "mlflow"}


@dataclass(frozen=True)
class UploadRequest:
    name: str
    path: str
    visibility: str
    workspace_id: int
    framework: str
    requirements: list[str]
    python_version: str
    input_schema: str | None
    output_schema: str | None
    model_name: str | None
    model_version: str | None


def upload_from_registry(
    session: Session,
    artifacts: ArtifactStore,
    connector: RegistryConnector,
    registry: Registry,
    user: User,
    request: UploadRequest,
) -> int:
    """Stream, verify, store, record; returns the new model version's id."""
    download = connector.open_download(request.path)
    try:
        staged = artifacts.stage(download.chunks, download.size)
    except IncompleteArtifact as exc:
        raise UpstreamError(registry.name, f"the file came incomplete: {exc}") from exc
    finally:
        download.close()
    version_uuid = new_uuid()
    key = f"{version_uuid}/{download.file_name or 'model'}"
    try:
        artifacts.commit(staged, key)
        version = _record(session, user, registry, request, download, staged, key)
    except BaseException:
        session.rollback()
        artifacts.discard(staged, key)
        raise
    return version.id


def _model_row(session: Session, user: User, name: str, workspace_id: int) -> Model:
    model = session.scalar(
        select(Model).where(Model.workspace_id == workspace_id, Model.name == name)
    )
    if model is not None:
        return model
    model = Model(name=name, workspace_id=workspace_id, owner_id=user.id)
    session.add(model)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        model = session.scalar(
            select(Model).where(Model.workspace_id == workspace_id, Model.name == name)
        )
        if model is None:
            raise ApiError(409, f"name: model '{name}' is being created concurrently") from None
    return model


def _record(
    session: Session,
    user: User,
    registry: Registry,
    request: UploadRequest,
    download: ArtifactDownload,
    staged: StagedFile,
    key: str,
) -> ModelVersion:
    """The model (created on first upload of its name) and its new version, in one commit."""
    model = _model_row(session, user, request.name, request.workspace_id)
    now = utcnow()
    model.updated_at = now
    provenance = download.provenance or {}
    version = ModelVersion(
        model_id=model.id,
        version=key.split("/", 1)[0],
        status="ready",
        visibility=request.visibility,
        file_name=download.file_name or "model",
        sha=staged.sha256,
        size=staged.size,
        storage_key=key,
        framework=request.framework,
        python_version=request.python_version,
        requirements=list(request.requirements),
        runtime=NATIVE_RUNTIMES.get(request.framework, "flight"),
        input_schema=request.input_schema,
        output_schema=request.output_schema,
        source_registry_id=registry.id,
        source_model_name=request.model_name or provenance.get("model_name"),
        source_version=request.model_version or provenance.get("model_version"),
        source_path=request.path,
        created_by=user.id,
        created_at=now,
    )
    session.add(version)
    session.commit()
    return version
