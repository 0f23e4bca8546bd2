"""Registries: connect, attach, detach, get, list, and browse one (Wallaroo's registry calls)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import AliasChoices, BeforeValidator, Field
from sqlalchemy import select

from wallaroo_registry_ui.contract import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PREVIEW_BYTES,
    ArtifactJson,
    ArtifactPreviewJson,
    ModelVersionPageJson,
    RegisteredModelPageJson,
    RegistryAttachmentJson,
    RegistryCreatedJson,
    RegistryDetailJson,
    RegistryJson,
    WorkspaceRefJson,
    mask_token,
)
from wallaroo_registry_ui.server.access import (
    is_attached,
    member_workspace,
    visible_registries_clause,
    visible_registry,
)
from wallaroo_registry_ui.server.body_types import (
    Body,
    HeaderToken,
    IntId,
    NonEmptyText,
    Text,
    UuidText,
    VersionText,
)
from wallaroo_registry_ui.server.connectors import CONNECTORS, guess_kind, url_problem
from wallaroo_registry_ui.server.connectors.base import (
    RegistryNotFound,
    UpstreamError,
)
from wallaroo_registry_ui.server.deps import (
    ConnectorDep,
    Services,
    ServicesDep,
    SessionDep,
    UserDep,
)
from wallaroo_registry_ui.server.errors import ApiError, bad_field
from wallaroo_registry_ui.server.store import (
    Registry,
    RegistryAttachment,
    Workspace,
    iso,
    utcnow,
)

router = APIRouter()


REGISTRY_ID = Field(validation_alias=AliasChoices("registry_id", "id"))
WORKSPACE_ID_ALIASES = AliasChoices("workspace_id", "workspace-id")
WORKSPACE_ID = Field(validation_alias=WORKSPACE_ID_ALIASES)
OPTIONAL_WORKSPACE_ID = Field(default=None, validation_alias=WORKSPACE_ID_ALIASES)
MAX_NAME = 255
MAX_URL = 2048


def _order_by(value: object) -> object:
    """MLflow's form is a list of strings; a single string is taken as a list of one."""
    return [value] if isinstance(value, str) else value


class CreateRegistry(Body):
    name: NonEmptyText
    url: NonEmptyText
    token: HeaderToken = ""
    workspace_id: IntId | None = OPTIONAL_WORKSPACE_ID
    kind: Text | None = None


class RegistryRef(Body):
    registry_id: UuidText = REGISTRY_ID


class Attachment(RegistryRef):
    workspace_id: IntId = WORKSPACE_ID


class ListRegistries(Body):
    workspace_id: IntId | None = OPTIONAL_WORKSPACE_ID


class Paging(RegistryRef):
    page_token: Text | None = None
    max_results: int | None = Field(default=None, strict=True)


class ListModels(Paging):
    filter: Text | None = None
    order_by: Annotated[list[Text] | None, BeforeValidator(_order_by)] = None


class ListVersions(Paging):
    model_name: NonEmptyText = Field(validation_alias=AliasChoices("model_name", "name"))
    extended: bool = False


class VersionRef(RegistryRef):
    name: NonEmptyText
    version: VersionText = Field(validation_alias=AliasChoices("version", "model_version"))


class FileRef(VersionRef):
    path: NonEmptyText = Field(validation_alias=AliasChoices("path", "relative_path"))


def registry_summary(registry: Registry) -> RegistryJson:
    return RegistryJson(
        id=registry.id,
        name=registry.name,
        url=registry.url,
        token=registry.token_masked,
        kind=registry.kind,
        created_at=iso(registry.created_at),
        updated_at=iso(registry.updated_at),
    )


def registry_detail(registry: Registry, workspaces: list[WorkspaceRefJson]) -> RegistryDetailJson:
    """A registry with the workspaces it is attached to."""
    return RegistryDetailJson(**registry_summary(registry), workspaces=workspaces)


def attachment_answer(registry: Registry, workspace_id: int) -> RegistryAttachmentJson:
    """The answer to attach and detach; ``id`` repeats ``registry_id``, as Wallaroo's does."""
    return RegistryAttachmentJson(
        id=registry.id, registry_id=registry.id, workspace_id=workspace_id
    )


def _refused_query(exc: UpstreamError, body: Paging) -> Exception:
    """A registry's 400 to a listing means the caller's query was wrong: say which part."""
    if exc.status != 400 or isinstance(exc, RegistryNotFound):
        return exc
    given = [f for f in ("filter", "order_by", "page_token") if getattr(body, f, None)]
    fields = "/".join(given) or "query"
    return ApiError(400, f"{fields}: the registry refused it: {exc}")


def _page_size(value: int | None) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if value < 1:
        raise bad_field("max_results", "must be a positive integer")
    return min(value, MAX_PAGE_SIZE)


def check_egress(svc: Services, url: str) -> None:
    """400 naming ``url`` when the service may not connect to its host, saying how its
    operator allows it. A host that resolves to nothing today is taken: the registry is
    unreachable until it does, and every connection is checked again anyway."""
    refused = svc.connections.egress.url_refusal(url)
    if refused is not None:
        raise bad_field("url", str(refused))


@router.post("/create_registry", response_model=dict)
def create_registry(
    body: CreateRegistry, session: SessionDep, user: UserDep, svc: ServicesDep
) -> RegistryCreatedJson:
    if len(body.name) > MAX_NAME:
        raise bad_field("name", f"must be at most {MAX_NAME} characters")
    too_long = len(body.url) > MAX_URL
    problem = f"is over {MAX_URL} characters" if too_long else url_problem(body.url, body.kind)
    if problem:
        raise bad_field("url", problem)
    check_egress(svc, body.url)
    kind = body.kind or guess_kind(body.url)
    if kind not in CONNECTORS:
        raise bad_field("kind", f"must be one of {', '.join(CONNECTORS)}")
    if body.workspace_id is not None:
        member_workspace(session, user, body.workspace_id)
    now = utcnow()
    registry = Registry(
        name=body.name,
        url=body.url.rstrip("/"),
        kind=kind,
        token_encrypted=svc.cipher.encrypt(body.token),
        token_masked=mask_token(body.token),
        created_by=user.id,
        created_at=now,
        updated_at=now,
    )
    session.add(registry)
    session.flush()
    result = RegistryCreatedJson(id=registry.id)
    if body.workspace_id is not None:
        session.add(RegistryAttachment(registry_id=registry.id, workspace_id=body.workspace_id))
        result["workspace_id"] = body.workspace_id
    session.commit()
    return result


@router.post("/attach_registry_to_workspace", response_model=dict)
def attach_registry(body: Attachment, session: SessionDep, user: UserDep) -> RegistryAttachmentJson:
    registry = visible_registry(session, user, body.registry_id)
    member_workspace(session, user, body.workspace_id)
    if not is_attached(session, registry.id, body.workspace_id):
        session.add(RegistryAttachment(registry_id=registry.id, workspace_id=body.workspace_id))
        session.commit()
    return attachment_answer(registry, body.workspace_id)


@router.post("/remove_registry_from_workspace", response_model=dict)
def remove_registry(body: Attachment, session: SessionDep, user: UserDep) -> RegistryAttachmentJson:
    registry = visible_registry(session, user, body.registry_id)
    member_workspace(session, user, body.workspace_id)
    key = {"registry_id": registry.id, "workspace_id": body.workspace_id}
    attachment = session.get(RegistryAttachment, key)
    if attachment is not None:
        session.delete(attachment)
        session.commit()
    return attachment_answer(registry, body.workspace_id)


@router.post("/get_registry", response_model=dict)
def get_registry(body: RegistryRef, session: SessionDep, user: UserDep) -> RegistryDetailJson:
    registry = visible_registry(session, user, body.registry_id)
    workspaces = session.execute(
        select(Workspace.id, Workspace.name)
        .join(RegistryAttachment, RegistryAttachment.workspace_id == Workspace.id)
        .where(RegistryAttachment.registry_id == registry.id)
        .order_by(Workspace.id)
    ).all()
    return registry_detail(registry, [WorkspaceRefJson(id=i, name=n) for i, n in workspaces])


@router.post("/list_registries", response_model=list[dict])
def list_registries(body: ListRegistries, session: SessionDep, user: UserDep) -> list[RegistryJson]:
    query = select(Registry).order_by(Registry.created_at, Registry.id)
    if body.workspace_id is not None:
        member_workspace(session, user, body.workspace_id)
        query = query.join(RegistryAttachment).where(
            RegistryAttachment.workspace_id == body.workspace_id
        )
    else:
        query = query.where(visible_registries_clause(user))
    return [registry_summary(r) for r in session.scalars(query).all()]


@router.post("/list_registry_models", response_model=dict)
def list_registry_models(
    body: ListModels, session: SessionDep, user: UserDep, open_connector: ConnectorDep
) -> RegisteredModelPageJson:
    registry = visible_registry(session, user, body.registry_id)
    try:
        page = open_connector(registry).list_models(
            max_results=_page_size(body.max_results),
            page_token=body.page_token or None,
            filter=body.filter or None,
            order_by=body.order_by or None,
        )
    except UpstreamError as exc:
        raise _refused_query(exc, body) from exc
    return RegisteredModelPageJson(
        registered_models=page.items, next_page_token=page.next_page_token or None
    )


@router.post("/list_registry_model_versions", response_model=dict)
def list_registry_model_versions(
    body: ListVersions, session: SessionDep, user: UserDep, open_connector: ConnectorDep
) -> ModelVersionPageJson:
    registry = visible_registry(session, user, body.registry_id)
    try:
        page = open_connector(registry).list_versions(
            body.model_name,
            max_results=_page_size(body.max_results),
            page_token=body.page_token or None,
            extended=body.extended,
        )
    except UpstreamError as exc:
        raise _refused_query(exc, body) from exc
    return ModelVersionPageJson(
        model_versions=page.items, next_page_token=page.next_page_token or None
    )


@router.post("/list_registry_model_version_artifacts", response_model=list[dict])
def list_registry_model_version_artifacts(
    body: VersionRef, session: SessionDep, user: UserDep, open_connector: ConnectorDep
) -> list[ArtifactJson]:
    registry = visible_registry(session, user, body.registry_id)
    return open_connector(registry).list_artifacts(body.name, body.version)


@router.post("/preview_registry_artifact", response_model=dict)
def preview_registry_artifact(
    body: FileRef, session: SessionDep, user: UserDep, open_connector: ConnectorDep
) -> ArtifactPreviewJson:
    """The start of a small text file (MLmodel, requirements.txt, ...), for a person to read.

    Not a Wallaroo call: the panel uses it to show files and pre-fill the upload form.
    """
    registry = visible_registry(session, user, body.registry_id)
    download = open_connector(registry).open_version_file(
        body.name, body.version, body.path.lstrip("/")
    )
    head = bytearray()
    try:
        for chunk in download.chunks:
            head += chunk
            if len(head) > PREVIEW_BYTES:
                break
    finally:
        download.close()
    truncated = len(head) > PREVIEW_BYTES
    data = bytes(head[:PREVIEW_BYTES])
    binary = b"\x00" in data
    text = "" if binary else data.decode("utf-8", errors="replace")
    return ArtifactPreviewJson(
        path=body.path.lstrip("/"),
        size=download.size if download.size is not None else len(head),
        text=text,
        truncated=truncated,
        binary=binary,
    )
