"""The registry API as code: the shapes every call answers, and the rules both sides share.

The client, the panel and the service all import this module and nothing else of each other,
so a field or a rule changes here once. The shapes are the Wallaroo model-registry API as the
official Wallaroo SDK sends and parses it (``docs/architecture.md`` tells where each is used):

- a *registered model* (RM, ``RegisteredModelJson``) and a *model version* (MV,
  ``ModelVersionJson``) are what a registry holds; they keep MLflow's field names and epoch
  milliseconds, because that is what Wallaroo passes through from MLflow and Databricks;
- a *model version config* (MVC, ``UploadedModelVersionJson``) is a file uploaded into a
  workspace, in the shape of the SDK's ``models/get_version``.

This module imports only the standard library; pyarrow is loaded by the schema codec when it
is used.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from typing import TYPE_CHECKING, Literal, TypedDict
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import pyarrow as pa

# ---- limits ------------------------------------------------------------------------------

DEFAULT_PAGE_SIZE = 100
"""Models or versions in a page when the caller does not say."""
MAX_PAGE_SIZE = 1000
"""MLflow's own cap on ``max_results``; larger requests are capped to it."""
PREVIEW_BYTES = 256 * 1024
"""How much of a file ``models/preview_registry_artifact`` reads, and so what is previewable."""

# ---- shapes ------------------------------------------------------------------------------

Timestamp = int | str
"""Registry-side times: epoch milliseconds, ``""`` where the registry gave none."""


class TagJson(TypedDict):
    key: str
    value: str


class ModelAliasJson(TypedDict):
    alias: str
    version: str


class ModelVersionJson(TypedDict):
    """MV: exactly these keys, ``""`` rather than a missing one; the SDK crashes on others."""

    name: str
    version: str
    description: str
    status: str
    run_id: str
    run_link: str
    source: str
    current_stage: str
    creation_timestamp: Timestamp
    last_updated_timestamp: Timestamp


class ExtendedModelVersionJson(ModelVersionJson, total=False):
    """MV with what only ``"extended": true`` adds (this service's own keys)."""

    aliases: list[str]
    tags: list[TagJson]


MODEL_VERSION_KEYS: tuple[str, ...] = tuple(ModelVersionJson.__annotations__)
EXTENDED_VERSION_KEYS: tuple[str, ...] = tuple(
    key for key in ExtendedModelVersionJson.__annotations__ if key not in MODEL_VERSION_KEYS
)


class _RegisteredModelRequired(TypedDict):
    name: str
    user_id: str
    creation_timestamp: Timestamp | None
    last_updated_timestamp: Timestamp | None
    latest_versions: list[ModelVersionJson] | None


class RegisteredModelJson(_RegisteredModelRequired, total=False):
    """RM: extra keys are allowed here, unlike in a version."""

    description: str
    tags: list[TagJson]
    aliases: list[ModelAliasJson]


class RegisteredModelPageJson(TypedDict):
    registered_models: list[RegisteredModelJson]
    next_page_token: str | None


class ModelVersionPageJson(TypedDict):
    model_versions: list[ExtendedModelVersionJson]
    next_page_token: str | None


class ArtifactJson(TypedDict):
    """A file or folder of a version. ``path`` starts with ``/``; ``relative_path`` (ours) is
    the same without it; ``full_path`` is a URL on the registry's origin (what upload takes)."""

    file_size: int | None
    full_path: str
    is_dir: bool
    modification_time: int | None
    path: str
    relative_path: str


class ArtifactPreviewJson(TypedDict):
    """``models/preview_registry_artifact`` (ours): the start of a small text file; ``size`` is
    the whole file's where the registry announced it, else the bytes read."""

    path: str
    size: int
    text: str
    truncated: bool
    binary: bool


class WorkspaceRefJson(TypedDict):
    id: int
    name: str


class RegistryJson(TypedDict):
    """An entry of ``models/list_registries``; ``token`` is always masked."""

    id: str
    name: str
    url: str
    token: str
    kind: str
    created_at: str
    updated_at: str


class RegistryDetailJson(RegistryJson):
    """``models/get_registry``."""

    workspaces: list[WorkspaceRefJson]


class _RegistryCreatedRequired(TypedDict):
    id: str


class RegistryCreatedJson(_RegistryCreatedRequired, total=False):
    """``models/create_registry``: ``workspace_id`` only when the registry was attached."""

    workspace_id: int


class RegistryDeletedJson(TypedDict):
    """``models/delete_registry`` (ours): the workspaces it was detached from, and how many
    uploads from it were still in flight (they end ``error``)."""

    id: str
    detached_from: list[int]
    uploads_ended: int


class RegistryAttachmentJson(TypedDict):
    """``models/attach_registry_to_workspace`` and ``models/remove_registry_from_workspace``."""

    id: str
    registry_id: str
    workspace_id: int


OWNER = "owner"
COLLABORATOR = "collaborator"
WORKSPACE_ROLES: tuple[str, ...] = (OWNER, COLLABORATOR)
"""A member's role in a workspace, as the Wallaroo SDK names them: owners manage members and
registries, collaborators browse and upload."""
ADMIN = "admin"
"""The role ``workspaces/list`` gives an instance admin: everything, in every workspace."""


class WorkspaceJson(TypedDict):
    """An entry of ``workspaces/list``; ``user_type`` (ours, an extra key the SDK's workspace
    tolerates) is the caller's role there: ``owner``, ``collaborator``, or ``admin`` for an
    instance admin."""

    id: int
    name: str
    created_at: str
    created_by: str
    archived: bool
    models: list[int]
    pipelines: list[int]
    user_type: str


class WorkspaceListJson(TypedDict):
    """``workspaces/list``: the caller's workspaces only."""

    workspaces: list[WorkspaceJson]


class WorkspaceCreatedJson(TypedDict):
    workspace_id: int


class WorkspaceUserJson(TypedDict):
    """A member; ``user_type`` is ``owner`` or ``collaborator``."""

    user_id: str
    email: str
    user_type: str


class WorkspaceUserListJson(TypedDict):
    users: list[WorkspaceUserJson]


class AffectedRowsJson(TypedDict):
    """``workspaces/remove_user``: 1 when a member was removed, 0 when there was none."""

    affected_rows: int


class EmptyJson(TypedDict):
    """An answer that only says the call worked (``workspaces/add_user``)."""


class FileInfoJson(TypedDict):
    """The stored file: ``sha`` its sha256, ``version`` the model version's uuid."""

    file_name: str
    sha: str
    size: int
    version: str


class ConversionJson(TypedDict):
    framework: str
    python_version: str
    requirements: list[str]


class SourceJson(TypedDict):
    """Where an uploaded file came from (ours): the registry, its model and version, the path."""

    registry_id: str | None
    model_name: str | None
    version: str | None
    path: str | None


class UploadedVersionJson(TypedDict):
    id: int
    name: str
    status: str
    visibility: str
    workspace_id: int
    file_info: FileInfoJson
    conversion: ConversionJson
    created_at: str
    created_by: str
    source: SourceJson


class _VersionConfigRequired(TypedDict):
    id: int
    model_version_id: int
    runtime: str


class VersionConfigJson(_VersionConfigRequired, total=False):
    input_schema: str
    output_schema: str


class UploadedModelVersionJson(TypedDict):
    """MVC: one uploaded model version with its config (``models/get_version``)."""

    model_version: UploadedVersionJson
    config: VersionConfigJson


class ModelJson(TypedDict):
    id: int
    name: str
    owner_id: str
    workspace_id: int
    created_at: str
    updated_at: str


class ModelListWorkspaceJson(TypedDict):
    id: int
    name: str
    created_at: str
    archived: bool


class ModelListEntryJson(TypedDict):
    """An entry of ``models/list``: a model, its versions and its workspace."""

    model: ModelJson
    model_versions: list[UploadedModelVersionJson]
    workspace: ModelListWorkspaceJson


class ModelListJson(TypedDict):
    models: list[ModelListEntryJson]


class ModelFileJson(TypedDict):
    """A version as ``models/get`` lists it: ``model_version`` is its uuid, ``model_id`` the
    model's name and ``models_pk_id`` the model's id, as the SDK names them."""

    id: int
    model_version: str
    model_id: str
    models_pk_id: int
    sha: str
    owner_id: str
    file_name: str


class ModelDetailJson(TypedDict):
    """``models/get``: one model of a workspace and its versions."""

    id: int
    name: str
    owner_id: str
    created_at: str
    updated_at: str
    workspace: WorkspaceRefJson
    models: list[ModelFileJson]


class UploadAnswerJson(TypedDict):
    """``models/upload_from_registry``: ``model_id`` is the new model version's id."""

    model_id: int


UploadStatus = Literal["uploading", "ready", "error"]
UPLOAD_STATUSES: tuple[str, ...] = ("uploading", "ready", "error")
"""An upload is ``uploading`` until its bytes are stored and verified (``ready``) or it failed
or was cancelled (``error``, nothing kept); the model version's ``status`` is the same."""


class UploadJson(TypedDict):
    """``models/get_upload`` and ``models/cancel_upload`` (ours): one upload job.

    ``bytes_total`` is null until the registry has said the file's size; ``bytes_per_second``
    is null until bytes have moved; ``error`` says why in words, naming the registry and never
    a token; ``finished_at`` is null while uploading.
    """

    model_version_id: int
    status: str
    bytes_done: int
    bytes_total: int | None
    bytes_per_second: float | None
    attempts: int
    error: str | None
    started_at: str
    finished_at: str | None


class UploadListEntryJson(UploadJson):
    """An entry of ``models/list_uploads``: the upload, its model's name and workspace."""

    name: str
    workspace_id: int


class UploadListJson(TypedDict):
    """``models/list_uploads`` (ours): a workspace's uploads, newest first."""

    uploads: list[UploadListEntryJson]


class AuditEventJson(TypedDict):
    """One event of the audit trail: ``at`` ISO-8601, ``actor`` an email (``unknown`` for a
    sign-in with an unknown token), ``detail`` words of the service's own."""

    at: str
    actor: str
    action: str
    workspace_id: int | None
    registry_id: str | None
    model_version_id: int | None
    detail: str


class AuditListJson(TypedDict):
    """``audit/list`` (ours, instance admins): the trail, newest first."""

    events: list[AuditEventJson]


class ConfigJson(TypedDict):
    """``GET /v1/api/config``, the one call without auth."""

    default_arch: str
    version: str
    server: str


# ---- values both sides check -------------------------------------------------------------

Visibility = Literal["private", "public"]
VISIBILITIES: tuple[str, ...] = ("private", "public")

FRAMEWORKS = (
    "onnx",
    "tensorflow",
    "python",
    "keras",
    "sklearn",
    "pytorch",
    "xgboost",
    "hugging-face-automatic-speech-recognition",
    "hugging-face-feature-extraction",
    "hugging-face-image-classification",
    "hugging-face-image-segmentation",
    "hugging-face-image-to-text",
    "hugging-face-object-detection",
    "hugging-face-question-answering",
    "hugging-face-stable-diffusion-text-2-img",
    "hugging-face-summarization",
    "hugging-face-text-classification",
    "hugging-face-translation",
    "hugging-face-zero-shot-classification",
    "hugging-face-zero-shot-image-classification",
    "hugging-face-zero-shot-object-detection",
    "hugging-face-sentiment-analysis",
    "hugging-face-text-generation",
    "custom",
    "vllm",
    "sglang",
    "mlflow",
)
"""The Wallaroo SDK's ``Framework`` values."""

PYTHON_VERSIONS = ("3.8", "3.9")
DEFAULT_PYTHON_VERSION = "3.8"

# ---- model names -------------------------------------------------------------------------

DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME_LENGTH = 63


def suggest_model_name(name: str) -> str:
    """The closest DNS-safe name: ``wine_quality`` -> ``wine-quality``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    dashed = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower())
    trimmed = dashed.strip("-")[:MAX_NAME_LENGTH].strip("-")
    return trimmed or "model"


def model_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid Wallaroo model name, with a fix; None when it is valid.

    Wallaroo model names become Kubernetes object names, so they must be DNS labels.
    """
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if len(name) > MAX_NAME_LENGTH:
        return (
            f"must be at most {MAX_NAME_LENGTH} characters (got {len(name)}); "
            f"try '{suggest_model_name(name)}'"
        )
    if not DNS_NAME.match(name):
        return (
            "must be DNS-compliant: lower-case letters, digits and '-', starting and ending "
            f"with a letter or digit; try '{suggest_model_name(name)}'"
        )
    return None


# ---- the schema codec --------------------------------------------------------------------


def schema_to_base64(schema: pa.Schema) -> str:
    """Serialize a pyarrow schema the way the Wallaroo SDK sends it."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def schema_from_base64(text: str) -> pa.Schema:
    """Decode a base64 pyarrow schema; ValueError with a readable reason when it is not one."""
    import pyarrow as pa

    if not isinstance(text, str):
        raise ValueError("must be a base64 string of a serialized pyarrow schema")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("is not valid base64") from exc
    try:
        return pa.ipc.read_schema(pa.py_buffer(raw))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise ValueError("is base64 but does not decode as a pyarrow schema") from exc


# ---- what may be shown -------------------------------------------------------------------

TOKEN_MASK = "****"
MIN_HINTED_TOKEN = 12
_MASKED_TOKEN = re.compile(r"(.{4})?\*{4}(.{2})?", re.DOTALL)


def mask_token(token: str) -> str:
    """What may be shown of a registry token: enough to recognise it, never enough to use it.

    A token shorter than 12 characters shows nothing of itself; a masked token stays as it is,
    so the client may mask again what a server already masked.
    """
    if not token:
        return ""
    if _MASKED_TOKEN.fullmatch(token):
        return token
    if len(token) < MIN_HINTED_TOKEN:
        return TOKEN_MASK
    return f"{token[:4]}{TOKEN_MASK}{token[-2:]}"


def public_url(url: str) -> str:
    """``url`` as it may be shown: without a user:password part, a query or a fragment."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))
