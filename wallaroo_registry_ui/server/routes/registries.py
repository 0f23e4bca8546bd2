"""Registries: connect, attach, detach, get, list, and browse one (Wallaroo's registry calls),
and change or delete one (ours)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import AliasChoices, BeforeValidator, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

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
    RegistryDeletedJson,
    RegistryDetailJson,
    RegistryJson,
    WorkspaceRefJson,
    mask_token,
    public_url,
)
from wallaroo_registry_ui.server import audit
from wallaroo_registry_ui.server import upload_jobs as jobs
from wallaroo_registry_ui.server.access import (
    attachable_registries_clause,
    attachable_registry,
    changeable_registry,
    is_attached,
    member_workspace,
    owner_workspace,
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
    RegistryCallDep,
    Services,
    ServicesDep,
    SessionDep,
    UserDep,
)
from wallaroo_registry_ui.server.errors import ApiError, bad_field
from wallaroo_registry_ui.server.openapi_errors import REGISTRY_CALL_RESPONSES
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


class UpdateRegistry(RegistryRef):
    name: NonEmptyText | None = None
    url: NonEmptyText | None = None
    token: HeaderToken | None = None


class Attachment(RegistryRef):
    workspace_id: IntId = WORKSPACE_ID


class ListRegistries(Body):
    workspace_id: IntId | None = OPTIONAL_WORKSPACE_ID
    attachable: bool = False
    """Ours: only the registries the caller may attach to a workspace (their own; every one
    for an admin), so a view can offer just those."""


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


QUERY_FIELDS = ("filter", "order_by", "page_token")


def _refused_query(
    exc: UpstreamError, body: Body, fields: tuple[str, ...] = QUERY_FIELDS
) -> Exception:
    """A registry's 400 to a listing means the caller's query was wrong: say which part.

    A registry that fails (5xx) on a page token the caller made up is the token's fault too
    (MLflow answers 500 to a token that decodes to JSON other than its own): 400 then; the
    same failure without a page token stays the registry's (502).
    """
    if isinstance(exc, RegistryNotFound) or exc.status is None:
        return exc
    if exc.status == 400:
        given = [f for f in fields if getattr(body, f, None)]
        return ApiError(400, f"{'/'.join(given) or 'query'}: the registry refused it: {exc}")
    if exc.status >= 500 and getattr(body, "page_token", None):
        return bad_field(
            "page_token",
            f"the registry failed on it (HTTP {exc.status}); pass a next_page_token exactly "
            "as a listing gave it",
        )
    return exc


def _page_size(value: int | None) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if value < 1:
        raise bad_field("max_results", "must be a positive integer")
    return min(value, MAX_PAGE_SIZE)


def checked_registry(svc: Services, name: str, url: str, kind: str | None) -> tuple[str, str]:
    """The URL as stored and the kind of a registry named ``name`` at ``url``, or a 400
    naming the field that is wrong: the checks of both create and update, egress included."""
    if len(name) > MAX_NAME:
        raise bad_field("name", f"must be at most {MAX_NAME} characters")
    too_long = len(url) > MAX_URL
    problem = f"is over {MAX_URL} characters" if too_long else url_problem(url, kind)
    if problem:
        raise bad_field("url", problem)
    kind = kind or guess_kind(url)
    if kind not in CONNECTORS:
        raise bad_field("kind", f"must be one of {', '.join(CONNECTORS)}")
    check_egress(svc, url)
    return url.rstrip("/"), kind


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
    url, kind = checked_registry(svc, body.name, body.url, body.kind)
    if body.workspace_id is not None:
        owner_workspace(session, user, body.workspace_id, "connecting a registry")
    now = utcnow()
    registry = Registry(
        name=body.name,
        url=url,
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
    audit.record(
        session,
        user,
        "registry_connected",
        workspace_id=body.workspace_id,
        registry_id=registry.id,
        detail=f"{registry.name} ({kind}) at {public_url(registry.url)}",
    )
    if body.workspace_id is not None:
        session.add(RegistryAttachment(registry_id=registry.id, workspace_id=body.workspace_id))
        result["workspace_id"] = body.workspace_id
    session.commit()
    return result


@router.post("/attach_registry_to_workspace", response_model=dict)
def attach_registry(body: Attachment, session: SessionDep, user: UserDep) -> RegistryAttachmentJson:
    registry = attachable_registry(session, user, body.registry_id, body.workspace_id)
    if not is_attached(session, registry.id, body.workspace_id):
        session.add(RegistryAttachment(registry_id=registry.id, workspace_id=body.workspace_id))
        audit.record(
            session,
            user,
            "registry_attached",
            workspace_id=body.workspace_id,
            registry_id=registry.id,
            detail=registry.name,
        )
        session.commit()
    return attachment_answer(registry, body.workspace_id)


@router.post("/remove_registry_from_workspace", response_model=dict)
def remove_registry(body: Attachment, session: SessionDep, user: UserDep) -> RegistryAttachmentJson:
    registry = visible_registry(session, user, body.registry_id)
    owner_workspace(session, user, body.workspace_id, "detaching a registry")
    key = {"registry_id": registry.id, "workspace_id": body.workspace_id}
    attachment = session.get(RegistryAttachment, key)
    if attachment is not None:
        session.delete(attachment)
        audit.record(
            session,
            user,
            "registry_detached",
            workspace_id=body.workspace_id,
            registry_id=registry.id,
            detail=registry.name,
        )
        session.commit()
    return attachment_answer(registry, body.workspace_id)


@router.post("/get_registry", response_model=dict)
def get_registry(body: RegistryRef, session: SessionDep, user: UserDep) -> RegistryDetailJson:
    registry = visible_registry(session, user, body.registry_id)
    return registry_detail(registry, attached_workspaces(session, registry.id))


def attached_workspaces(session: Session, registry_id: str) -> list[WorkspaceRefJson]:
    rows = session.execute(
        select(Workspace.id, Workspace.name)
        .join(RegistryAttachment, RegistryAttachment.workspace_id == Workspace.id)
        .where(RegistryAttachment.registry_id == registry_id)
        .order_by(Workspace.id)
    ).all()
    return [WorkspaceRefJson(id=i, name=n) for i, n in rows]


@router.post("/update_registry", response_model=dict)
def update_registry(
    body: UpdateRegistry, session: SessionDep, user: UserDep, svc: ServicesDep
) -> RegistryDetailJson:
    """A new name, URL or token (rotated) for a registry: its creator's or an admin's call.

    The URL is checked as create_registry checks it; the next call to the registry, in any
    process, uses what is stored now (connectors are opened per call from the row).
    """
    given = [f for f in ("name", "url", "token") if getattr(body, f) is not None]
    if not given:
        raise ApiError(400, "name/url/token: give at least one of them to change")
    registry = changeable_registry(session, user, body.registry_id)
    name = registry.name if body.name is None else body.name
    url, _ = checked_registry(
        svc, name, registry.url if body.url is None else body.url, registry.kind
    )
    registry.name, registry.url = name, url
    if body.token is not None:
        registry.token_encrypted = svc.cipher.encrypt(body.token)
        registry.token_masked = mask_token(body.token)
    registry.updated_at = utcnow()
    audit.record(
        session, user, "registry_updated", registry_id=registry.id,
        detail=f"'{registry.name}': changed {', '.join(given)}",
    )  # fmt: skip
    session.commit()
    svc.connections.forget(registry.id)
    return registry_detail(registry, attached_workspaces(session, registry.id))


@router.post("/delete_registry", response_model=dict)
def delete_registry(
    body: RegistryRef, session: SessionDep, user: UserDep, svc: ServicesDep
) -> RegistryDeletedJson:
    """Detach a registry from every workspace and forget it (its creator's or an admin's call).

    Models uploaded from it stay, naming it in their provenance; uploads from it still in
    flight end ``error`` (their bytes are dropped).
    """
    registry = changeable_registry(session, user, body.registry_id)
    detached = attached_workspaces(session, registry.id)
    session.execute(delete(RegistryAttachment).where(RegistryAttachment.registry_id == registry.id))
    for workspace in detached:
        audit.record(
            session, user, "registry_detached", workspace_id=workspace["id"],
            registry_id=registry.id, detail=f"'{registry.name}': the registry was deleted",
        )  # fmt: skip
    ended = jobs.end_uploads_from_registry(
        session, registry.id, f"the registry '{registry.name}' was deleted"
    )
    audit.record(
        session, user, "registry_deleted", registry_id=registry.id,
        detail=f"'{registry.name}': detached from {len(detached)} workspace(s), "
        f"{len(ended)} upload(s) in flight ended",
    )  # fmt: skip
    session.delete(registry)
    session.commit()
    svc.connections.forget(registry.id)
    for version_id in ended:
        svc.uploads.interrupt(version_id)
    return RegistryDeletedJson(
        id=registry.id,
        detached_from=[workspace["id"] for workspace in detached],
        uploads_ended=len(ended),
    )


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
    if body.attachable:
        query = query.where(attachable_registries_clause(user))
    return [registry_summary(r) for r in session.scalars(query).all()]


@router.post("/list_registry_models", response_model=dict, responses=REGISTRY_CALL_RESPONSES)
def list_registry_models(
    body: ListModels, session: SessionDep, user: UserDep, call: RegistryCallDep
) -> RegisteredModelPageJson:
    registry = visible_registry(session, user, body.registry_id)
    page_size = _page_size(body.max_results)
    try:
        with call.listing(registry) as connector:
            page = connector.list_models(
                max_results=page_size,
                page_token=body.page_token or None,
                filter=body.filter or None,
                order_by=body.order_by or None,
            )
    except UpstreamError as exc:
        raise _refused_query(exc, body) from exc
    return RegisteredModelPageJson(
        registered_models=page.items, next_page_token=page.next_page_token or None
    )


@router.post(
    "/list_registry_model_versions", response_model=dict, responses=REGISTRY_CALL_RESPONSES
)
def list_registry_model_versions(
    body: ListVersions, session: SessionDep, user: UserDep, call: RegistryCallDep
) -> ModelVersionPageJson:
    registry = visible_registry(session, user, body.registry_id)
    page_size = _page_size(body.max_results)
    try:
        with call.listing(registry) as connector:
            page = connector.list_versions(
                body.model_name,
                max_results=page_size,
                page_token=body.page_token or None,
                extended=body.extended,
            )
    except UpstreamError as exc:
        raise _refused_query(exc, body) from exc
    return ModelVersionPageJson(
        model_versions=page.items, next_page_token=page.next_page_token or None
    )


@router.post(
    "/list_registry_model_version_artifacts",
    response_model=list[dict],
    responses=REGISTRY_CALL_RESPONSES,
)
def list_registry_model_version_artifacts(
    body: VersionRef, session: SessionDep, user: UserDep, call: RegistryCallDep
) -> list[ArtifactJson]:
    registry = visible_registry(session, user, body.registry_id)
    try:
        with call.listing(registry) as connector:
            return connector.list_artifacts(body.name, body.version)
    except UpstreamError as exc:
        raise _refused_query(exc, body, ("name", "version")) from exc


@router.post("/preview_registry_artifact", response_model=dict, responses=REGISTRY_CALL_RESPONSES)
def preview_registry_artifact(
    body: FileRef, session: SessionDep, user: UserDep, call: RegistryCallDep
) -> ArtifactPreviewJson:
    """The start of a small text file (MLmodel, requirements.txt, ...), for a person to read.

    Not a Wallaroo call: the panel uses it to show files and pre-fill the upload form.
    """
    registry = visible_registry(session, user, body.registry_id)
    with call.preview(registry) as connector:
        download = connector.open_version_file(body.name, body.version, body.path.lstrip("/"))
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
