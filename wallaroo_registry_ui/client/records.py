"""What the registry API answers, as frozen dataclasses.

Each ``from_json`` is annotated with the contract's shape it reads, and is lenient about it: a
key the server leaves out gets a sensible default, and MLflow's list-of-pairs forms of tags and
aliases become dicts, so the rest of the package sees one shape whether the answer comes from
the bundled service or a Wallaroo instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from wallaroo_registry_ui.contract import (
    UPLOAD_STATUSES,
    ArtifactJson,
    ArtifactPreviewJson,
    AuditEventJson,
    ExtendedModelVersionJson,
    ModelJson,
    ModelListWorkspaceJson,
    ModelVersionJson,
    ModelVersionPageJson,
    RegisteredModelJson,
    RegisteredModelPageJson,
    RegistryDeletedJson,
    RegistryDetailJson,
    RegistryJson,
    UploadedModelVersionJson,
    UploadJson,
    UploadListEntryJson,
    WorkspaceJson,
    WorkspaceUserJson,
    mask_token,
)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _moment(value: str | None) -> datetime | None:
    """An ISO-8601 time as an aware datetime: ``Z`` read (Python 3.10 refuses it), and a time
    without an offset taken as UTC, as the frames take it."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _pairs(value: Any, key: str, val: str) -> dict[str, str]:
    """MLflow sends ``[{"key": k, "value": v}]`` (or ``alias``/``version``); accept a dict too."""
    if isinstance(value, dict):
        return {str(k): _text(v) for k, v in value.items()}
    pairs: dict[str, str] = {}
    for item in value or ():
        if isinstance(item, dict) and key in item:
            pairs[str(item[key])] = _text(item.get(val))
    return pairs


def _names(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [str(k) for k in value]
    names = []
    for item in value or ():
        names.append(str(item.get("alias", "")) if isinstance(item, dict) else str(item))
    return names


@dataclass(frozen=True)
class Workspace:
    """A Wallaroo workspace the caller belongs to; ``user_type`` is the caller's role there
    (``owner``, ``collaborator``, ``admin``; ``""`` from a server that does not say)."""

    id: int
    name: str
    created_at: str | None = None
    created_by: str | None = None
    archived: bool = False
    models: list[int] = field(default_factory=list)
    pipelines: list[int] = field(default_factory=list)
    user_type: str = ""

    @classmethod
    def from_json(cls, data: WorkspaceJson) -> Workspace:
        return cls(
            id=int(data["id"]),
            name=_text(data.get("name")),
            created_at=data.get("created_at"),
            created_by=data.get("created_by"),
            archived=bool(data.get("archived", False)),
            models=[m for m in (data.get("models") or []) if m is not None],
            pipelines=[p for p in (data.get("pipelines") or []) if p is not None],
            user_type=_text(data.get("user_type")).lower(),
        )


@dataclass(frozen=True)
class WorkspaceUser:
    """A member of a workspace; ``user_type`` is ``owner`` or ``collaborator``."""

    user_id: str
    email: str
    user_type: str = ""

    @classmethod
    def from_json(cls, data: WorkspaceUserJson) -> WorkspaceUser:
        return cls(
            user_id=_text(data.get("user_id", data.get("id"))),
            email=_text(data.get("email")),
            user_type=_text(data.get("user_type")),
        )


@dataclass(frozen=True)
class WorkspaceRef:
    """A workspace a registry is attached to; ``ref["id"]`` works too, as on the API's dict."""

    id: int
    name: str

    def __getitem__(self, key: str) -> Any:
        if key not in ("id", "name"):
            raise KeyError(key)
        return getattr(self, key)


@dataclass(frozen=True)
class Registry:
    """A model registry connection. ``token_hint`` is masked; the plain token never gets here."""

    id: str
    name: str
    url: str
    kind: str | None = None
    token_hint: str = ""
    created_at: str | None = None
    updated_at: str | None = None
    workspaces: list[WorkspaceRef] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: RegistryJson | RegistryDetailJson) -> Registry:
        attached: Any = data.get("workspaces") or []
        refs = [
            WorkspaceRef(id=int(w["id"]), name=_text(w.get("name")))
            for w in attached
            if isinstance(w, dict) and w.get("id") is not None
        ]
        return cls(
            id=_text(data.get("id", data.get("registry_id"))),
            name=_text(data.get("name")),
            url=_text(data.get("url")),
            kind=data.get("kind") or None,
            token_hint=mask_token(_text(data.get("token"))),
            created_at=data.get("created_at"),
            updated_at=data.get("updated_at"),
            workspaces=refs,
        )


@dataclass(frozen=True)
class DeletedRegistry:
    """What deleting a registry did: the workspaces it was detached from, and how many
    uploads from it were still in flight (they end in error)."""

    id: str
    detached_from: list[int] = field(default_factory=list)
    uploads_ended: int = 0

    @classmethod
    def from_json(cls, data: RegistryDeletedJson) -> DeletedRegistry:
        return cls(
            id=_text(data.get("id")),
            detached_from=[int(w) for w in data.get("detached_from") or []],
            uploads_ended=int(data.get("uploads_ended") or 0),
        )


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model, as the registry reports it (times in epoch ms)."""

    name: str
    version: str
    description: str = ""
    status: str = ""
    run_id: str = ""
    run_link: str = ""
    source: str = ""
    current_stage: str = ""
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    user_id: str = ""
    aliases: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: ModelVersionJson | ExtendedModelVersionJson) -> ModelVersion:
        return cls(
            name=_text(data.get("name")),
            version=_text(data.get("version")),
            description=_text(data.get("description")),
            status=_text(data.get("status")),
            run_id=_text(data.get("run_id")),
            run_link=_text(data.get("run_link")),
            source=_text(data.get("source")),
            current_stage=_text(data.get("current_stage")),
            creation_timestamp=_int_or_none(data.get("creation_timestamp")),
            last_updated_timestamp=_int_or_none(data.get("last_updated_timestamp")),
            user_id=_text(data.get("user_id")),
            aliases=_names(data.get("aliases")),
            tags=_pairs(data.get("tags"), "key", "value"),
        )


@dataclass(frozen=True)
class RegisteredModel:
    """A model in a registry; ``aliases`` maps alias -> version."""

    name: str
    user_id: str = ""
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    latest_versions: list[ModelVersion] | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: RegisteredModelJson) -> RegisteredModel:
        versions = data.get("latest_versions")
        return cls(
            name=_text(data.get("name")),
            user_id=_text(data.get("user_id")),
            creation_timestamp=_int_or_none(data.get("creation_timestamp")),
            last_updated_timestamp=_int_or_none(data.get("last_updated_timestamp")),
            latest_versions=(
                None
                if versions is None
                else [ModelVersion.from_json(v) for v in versions if isinstance(v, dict)]
            ),
            description=_text(data.get("description")),
            tags=_pairs(data.get("tags"), "key", "value"),
            aliases=_pairs(data.get("aliases"), "alias", "version"),
        )


@dataclass(frozen=True)
class RegisteredModelPage:
    """One page of registered models; ``next_page_token`` is None on the last page."""

    registered_models: list[RegisteredModel]
    next_page_token: str | None = None

    @classmethod
    def from_json(cls, data: RegisteredModelPageJson) -> RegisteredModelPage:
        return cls(
            registered_models=[
                RegisteredModel.from_json(m)
                for m in data.get("registered_models") or []
                if isinstance(m, dict)
            ],
            next_page_token=data.get("next_page_token") or None,
        )


@dataclass(frozen=True)
class ModelVersionPage:
    """One page of versions of a registered model."""

    model_versions: list[ModelVersion]
    next_page_token: str | None = None

    @classmethod
    def from_json(cls, data: ModelVersionPageJson) -> ModelVersionPage:
        return cls(
            model_versions=[
                ModelVersion.from_json(v)
                for v in data.get("model_versions") or []
                if isinstance(v, dict)
            ],
            next_page_token=data.get("next_page_token") or None,
        )


@dataclass(frozen=True)
class Artifact:
    """A file (or directory) of a model version; ``full_path`` is what upload takes as path."""

    path: str
    full_path: str = ""
    relative_path: str = ""
    is_dir: bool = False
    file_size: int | None = None
    modification_time: int | None = None

    @property
    def file_name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @classmethod
    def from_json(cls, data: ArtifactJson) -> Artifact:
        path = _text(data.get("path"))
        relative = data.get("relative_path")
        return cls(
            path=path,
            full_path=_text(data.get("full_path")),
            relative_path=_text(relative) if relative is not None else path.lstrip("/"),
            is_dir=bool(data.get("is_dir", False)),
            file_size=_int_or_none(data.get("file_size")),
            modification_time=_int_or_none(data.get("modification_time")),
        )


@dataclass(frozen=True)
class ArtifactPreview:
    """The start of a small text file of a version, as the service read it from the registry."""

    path: str
    size: int | None
    text: str
    truncated: bool
    binary: bool

    @classmethod
    def from_json(cls, data: ArtifactPreviewJson) -> ArtifactPreview:
        return cls(
            path=_text(data.get("path")),
            size=_int_or_none(data.get("size")),
            text=_text(data.get("text")),
            truncated=bool(data.get("truncated", False)),
            binary=bool(data.get("binary", False)),
        )


@dataclass(frozen=True)
class UploadedModel:
    """One model version uploaded into a workspace, with where it came from."""

    model_id: int | None
    name: str
    workspace_id: int | None
    workspace_name: str
    version_id: int | None
    version: str
    sha: str
    file_name: str
    size: int | None
    framework: str
    python_version: str
    requirements: list[str]
    runtime: str
    status: str
    visibility: str
    source_registry_id: str
    source_model_name: str
    source_version: str
    source_path: str
    created_at: str | None
    created_by: str

    @classmethod
    def from_json(
        cls,
        entry: UploadedModelVersionJson,
        *,
        model: ModelJson | None = None,
        workspace: ModelListWorkspaceJson | None = None,
    ) -> UploadedModel:
        """Flatten one ``{"model_version", "config"}`` entry, with its model and workspace."""
        model_fields: Mapping[str, Any] = model or {}
        workspace_fields: Mapping[str, Any] = workspace or {}
        version = _dict(entry.get("model_version"))
        config = _dict(entry.get("config"))
        file_info = _dict(version.get("file_info"))
        conversion = _dict(version.get("conversion"))
        source = _dict(version.get("source"))
        workspace_id = version.get(
            "workspace_id", model_fields.get("workspace_id", workspace_fields.get("id"))
        )
        return cls(
            model_id=_int_or_none(
                model_fields.get("id", version.get("models_pk_id", version.get("model_pk_id")))
            ),
            name=_text(version.get("name", model_fields.get("name"))),
            workspace_id=_int_or_none(workspace_id),
            workspace_name=_text(workspace_fields.get("name")),
            version_id=_int_or_none(version.get("id")),
            version=_text(file_info.get("version", version.get("model_version"))),
            sha=_text(file_info.get("sha")),
            file_name=_text(file_info.get("file_name")),
            size=_int_or_none(file_info.get("size")),
            framework=_text(conversion.get("framework")),
            python_version=_text(conversion.get("python_version")),
            requirements=[str(r) for r in conversion.get("requirements") or []],
            runtime=_text(config.get("runtime")),
            status=_text(version.get("status")),
            visibility=_text(version.get("visibility")),
            source_registry_id=_text(source.get("registry_id")),
            source_model_name=_text(source.get("model_name")),
            source_version=_text(source.get("version")),
            source_path=_text(source.get("path")),
            created_at=version.get("created_at"),
            created_by=_text(version.get("created_by")),
        )


UPLOADING, READY, ERROR = UPLOAD_STATUSES


@dataclass(frozen=True)
class UploadProgress:
    """Where one upload job stands: bytes moved, rate, retries, and how it ended.

    ``bytes_total`` is None until the registry has said the file's size; ``error`` says in
    words why an upload ended in ``error`` (a cancel names who cancelled). ``name`` and
    ``workspace_id`` come with ``list_uploads``; ``get_upload`` leaves them out.
    """

    model_version_id: int
    status: str
    bytes_done: int
    bytes_total: int | None
    bytes_per_second: float | None
    attempts: int
    error: str | None
    started_at: str | None
    finished_at: str | None
    name: str = ""
    workspace_id: int | None = None

    @property
    def done(self) -> bool:
        """The upload has ended, ready or not; nothing about it changes any more."""
        return self.status != UPLOADING

    @property
    def fraction(self) -> float | None:
        """Bytes done over the total, 0.0 to 1.0; None while the total is unknown."""
        if self.status == READY:
            return 1.0
        if not self.bytes_total:
            return None
        return min(1.0, max(0.0, self.bytes_done / self.bytes_total))

    @property
    def seconds_left(self) -> float | None:
        """The time left at the current rate; 0.0 once ready; None when it cannot be told."""
        if self.status == READY:
            return 0.0
        if self.done or self.bytes_total is None or not self.bytes_per_second:
            return None
        return max(0, self.bytes_total - self.bytes_done) / self.bytes_per_second

    @property
    def elapsed_seconds(self) -> float | None:
        """From the start to the end of an upload that has ended, by the service's clock."""
        started, finished = _moment(self.started_at), _moment(self.finished_at)
        if started is None or finished is None:
            return None
        return max(0.0, (finished - started).total_seconds())

    @classmethod
    def from_json(cls, data: UploadJson | UploadListEntryJson) -> UploadProgress:
        return cls(
            model_version_id=int(data["model_version_id"]),
            status=_text(data.get("status")),
            bytes_done=_int_or_none(data.get("bytes_done")) or 0,
            bytes_total=_int_or_none(data.get("bytes_total")),
            bytes_per_second=_float_or_none(data.get("bytes_per_second")),
            attempts=_int_or_none(data.get("attempts")) or 0,
            error=_text(data.get("error")) or None,
            started_at=_text(data.get("started_at")) or None,
            finished_at=_text(data.get("finished_at")) or None,
            name=_text(data.get("name")),
            workspace_id=_int_or_none(data.get("workspace_id")),
        )

    @classmethod
    def from_model_version(cls, model: UploadedModel) -> UploadProgress:
        """What a model version's own record tells of its upload, for a server without
        ``models/get_upload`` (a Wallaroo instance): ``ready`` and ``error`` end it, any
        other status (``pending_load_native``, ...) means it is still going."""
        if model.version_id is None:
            raise ValueError("the model version has no id")
        status = model.status if model.status in (READY, ERROR) else UPLOADING
        return cls(
            model_version_id=model.version_id,
            status=status,
            bytes_done=model.size or 0,
            bytes_total=model.size if status == READY else None,
            bytes_per_second=None,
            attempts=0,
            error=None,
            started_at=model.created_at,
            finished_at=None,
            name=model.name,
            workspace_id=model.workspace_id,
        )


@dataclass(frozen=True)
class AuditEvent:
    """One event of the audit trail: who (``actor``, an email) did what (``action``), when."""

    at: str
    actor: str
    action: str
    workspace_id: int | None = None
    registry_id: str | None = None
    model_version_id: int | None = None
    detail: str = ""

    @classmethod
    def from_json(cls, data: AuditEventJson) -> AuditEvent:
        registry_id = data.get("registry_id")
        return cls(
            at=_text(data.get("at")),
            actor=_text(data.get("actor")),
            action=_text(data.get("action")),
            workspace_id=_int_or_none(data.get("workspace_id")),
            registry_id=None if registry_id is None else str(registry_id),
            model_version_id=_int_or_none(data.get("model_version_id")),
            detail=_text(data.get("detail")),
        )
