"""RegistryClient: the registry API of a Wallaroo instance (or the bundled service) from Python.

One method per API call, returning frozen dataclasses (``records``) or DataFrames (``frames``).
How calls travel (auth, retries of reads, typed errors that never carry the API token) is
``transport``'s job.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from types import ModuleType
from typing import TYPE_CHECKING, Any

import requests

from wallaroo_registry_ui.client.errors import BadRequest, NotFound, UploadFailed
from wallaroo_registry_ui.client.progress_bar import terminal_progress_bar
from wallaroo_registry_ui.client.records import (
    ERROR,
    Artifact,
    ArtifactPreview,
    AuditEvent,
    DeletedRegistry,
    ModelVersion,
    ModelVersionPage,
    RegisteredModel,
    RegisteredModelPage,
    Registry,
    UploadedModel,
    UploadProgress,
    Workspace,
    WorkspaceUser,
)
from wallaroo_registry_ui.client.transport import ApiTransport
from wallaroo_registry_ui.client.upload_polling import ProgressCallback, poll_until_done
from wallaroo_registry_ui.contract import (
    FRAMEWORKS,
    UPLOAD_STATUSES,
    model_name_problem,
    schema_to_base64,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["RegistryClient"]

URL_ENV = "WALLAROO_REGISTRY_URL"
TOKEN_ENV = "WALLAROO_REGISTRY_TOKEN"
HUB_TOKEN_ENV = "JUPYTERHUB_API_TOKEN"


def login_from_environment(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The service's URL and a token to sign in with, for ``RegistryClient()``: the URL from
    ``WALLAROO_REGISTRY_URL``, the token from ``WALLAROO_REGISTRY_TOKEN`` or else, inside a
    JupyterHub server, the hub's ``JUPYTERHUB_API_TOKEN`` (the service asks the hub whose it
    is). ValueError saying what to set when either is missing; never naming a token."""
    env = os.environ if environ is None else environ
    url = env.get(URL_ENV, "").strip()
    if not url:
        raise ValueError(
            f"RegistryClient() needs the service's URL: pass it, or set {URL_ENV} "
            "(in JupyterHub the platform sets it for every server, with c.Spawner.environment)"
        )
    token = env.get(TOKEN_ENV, "").strip() or env.get(HUB_TOKEN_ENV, "").strip()
    if not token:
        raise ValueError(
            f"RegistryClient() found {URL_ENV} but no token: set {TOKEN_ENV} to an API "
            "token ('wallaroo-registry-ui user add <email>' prints one), or run it in a "
            f"JupyterHub server, which sets {HUB_TOKEN_ENV}"
        )
    return url, token


def _frames() -> ModuleType:
    """The DataFrame builders, imported when a frame is first asked for: pandas is heavy, and
    code that only calls the API never needs it."""
    from wallaroo_registry_ui.client import frames

    return frames


class RegistryClient:
    """A client of the Wallaroo registry API: workspaces, registries, registry models, uploads.

    With no URL, ``login_from_environment`` finds the service and a token (in JupyterHub:
    ``RegistryClient()`` signs in as the hub's user)."""

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_retry_seconds: float = 30.0,
        session: requests.Session | None = None,
        auth_header_source: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        if base_url is None:
            base_url, found = login_from_environment()
            token = token or found
        self._http = ApiTransport(
            base_url,
            token,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_retry_seconds=max_retry_seconds,
            session=session,
            auth_header_source=auth_header_source,
        )

    @classmethod
    def from_wallaroo(cls, wl: Any, **options: Any) -> RegistryClient:
        """Reuse a ``wallaroo.Client``'s endpoint and login; its header is fetched per request
        because its tokens expire and the SDK refreshes them."""
        endpoint = getattr(wl, "api_endpoint", None)
        auth_header = getattr(getattr(wl, "auth", None), "auth_header", None)
        if not isinstance(endpoint, str) or not endpoint or not callable(auth_header):
            raise TypeError(
                "from_wallaroo needs a wallaroo.Client: an object with .api_endpoint "
                "and .auth.auth_header()"
            )
        return cls(endpoint, None, auth_header_source=auth_header, **options)

    @property
    def base_url(self) -> str:
        """The API's root URL (without ``/v1/api``)."""
        return self._http.base_url

    def __repr__(self) -> str:
        return f"RegistryClient({self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- config ----------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The server's configuration (``default_arch``, version); needs no login."""
        answer = self._http.request("GET", "config", None, retry=True)
        return answer if isinstance(answer, dict) else {}

    # ---- workspaces ------------------------------------------------------------------------

    def create_workspace(self, name: str) -> int:
        """Create a workspace (the caller becomes its owner); its id."""
        call = "workspaces/create"
        answer = self._http.write(call, {"workspace_name": name})
        return self._http.parse(call, lambda: int(answer["workspace_id"]))

    def list_workspaces(self) -> list[Workspace]:
        """The workspaces the caller belongs to."""
        call = "workspaces/list"
        answer = self._http.read(call, {})
        return self._http.parse(
            call, lambda: [Workspace.from_json(w) for w in answer.get("workspaces") or []]
        )

    def add_user(self, workspace_id: int, email: str, user_type: str | None = None) -> None:
        """Make a user a member of a workspace (``user_type`` ``"owner"`` or
        ``"collaborator"``, the default), or give a member that role; needs the owner role."""
        body: dict[str, Any] = {"workspace_id": int(workspace_id), "email": email}
        if user_type is not None:
            body["user_type"] = user_type
        self._http.write("workspaces/add_user", body)

    def list_users(self, workspace_id: int) -> list[WorkspaceUser]:
        """The members of a workspace."""
        call = "workspaces/list_users"
        answer = self._http.read(call, {"workspace_id": int(workspace_id)})
        return self._http.parse(
            call, lambda: [WorkspaceUser.from_json(u) for u in answer.get("users") or []]
        )

    def remove_user(self, workspace_id: int, email: str) -> int:
        """Remove a member; how many memberships were removed (0 if they were not one)."""
        call = "workspaces/remove_user"
        answer = self._http.write(call, {"workspace_id": int(workspace_id), "email": email})
        return self._http.parse(call, lambda: int((answer or {}).get("affected_rows", 0)))

    # ---- audit -----------------------------------------------------------------------------

    def list_audit(
        self, since: str | date | None = None, workspace_id: int | None = None
    ) -> list[AuditEvent]:
        """The audit trail, newest first (instance admins only): from ``since`` (an ISO-8601
        date or datetime, or a ``date``/``datetime``) on, of one workspace if given."""
        call = "audit/list"
        body: dict[str, Any] = {}
        if since is not None:
            body["since"] = since.isoformat() if isinstance(since, date) else str(since)
        if workspace_id is not None:
            body["workspace_id"] = int(workspace_id)
        answer = self._http.read(call, body)
        return self._http.parse(
            call, lambda: [AuditEvent.from_json(e) for e in answer.get("events") or []]
        )

    # ---- registries ------------------------------------------------------------------------

    def create_registry(
        self,
        name: str,
        url: str,
        token: str = "",
        workspace_id: int | None = None,
        kind: str | None = None,
    ) -> str:
        """Connect a model registry (MLflow or Azure Databricks); its id (a UUID string)."""
        call = "models/create_registry"
        body: dict[str, Any] = {"name": name, "url": url, "token": token or ""}
        if workspace_id is not None:
            body["workspace_id"] = int(workspace_id)
        if kind is not None:
            body["kind"] = kind
        answer = self._http.write(call, body)
        return self._http.parse(call, lambda: str(answer["id"]))

    def attach_registry(self, registry_id: str, workspace_id: int) -> None:
        """Make a registry available to a workspace's members."""
        self._http.write(
            "models/attach_registry_to_workspace",
            {"registry_id": str(registry_id), "workspace_id": int(workspace_id)},
        )

    def detach_registry(self, registry_id: str, workspace_id: int) -> None:
        """Remove a registry from a workspace (the registry itself stays)."""
        self._http.write(
            "models/remove_registry_from_workspace",
            {"registry_id": str(registry_id), "workspace_id": int(workspace_id)},
        )

    def get_registry(self, registry_id: str) -> Registry:
        """One registry, with the workspaces it is attached to."""
        call = "models/get_registry"
        answer = self._http.read(call, {"registry_id": str(registry_id)})
        return self._http.parse(call, lambda: Registry.from_json(answer))

    def update_registry(
        self,
        registry_id: str,
        *,
        name: str | None = None,
        url: str | None = None,
        token: str | None = None,
    ) -> Registry:
        """Rename a registry, move it to a new URL or rotate its token (only what is given
        changes; ``token=""`` clears it). Its creator or an instance admin may."""
        call = "models/update_registry"
        body: dict[str, Any] = {"registry_id": str(registry_id)}
        for key, value in (("name", name), ("url", url), ("token", token)):
            if value is not None:
                body[key] = value
        answer = self._http.write(call, body)
        return self._http.parse(call, lambda: Registry.from_json(answer))

    def delete_registry(self, registry_id: str) -> DeletedRegistry:
        """Detach a registry from every workspace and delete it; models uploaded from it stay.
        Its creator or an instance admin may."""
        call = "models/delete_registry"
        answer = self._http.write(call, {"registry_id": str(registry_id)})
        return self._http.parse(call, lambda: DeletedRegistry.from_json(answer))

    def list_registries(
        self, workspace_id: int | None = None, *, attachable: bool = False
    ) -> list[Registry]:
        """The registries attached to a workspace (without one: every registry the caller
        sees); ``attachable`` keeps those the caller may attach to a workspace (the ones they
        connected; every one for an instance admin; a server that does not know the filter
        answers them all)."""
        call = "models/list_registries"
        body: dict[str, Any] = {} if workspace_id is None else {"workspace_id": int(workspace_id)}
        if attachable:
            body["attachable"] = True
        answer = self._http.read(call, body)
        items = answer.get("registries") if isinstance(answer, dict) else answer
        return self._http.parse(call, lambda: [Registry.from_json(r) for r in items or []])

    def list_registry_models(
        self,
        registry_id: str,
        *,
        page_token: str | None = None,
        max_results: int | None = None,
        filter: str | None = None,
        order_by: str | Iterable[str] | None = None,
    ) -> RegisteredModelPage:
        """One page of the registry's models; ``filter`` and ``order_by`` use MLflow's syntax
        (``"name LIKE '%wine%'"``, ``["name ASC"]``)."""
        call = "models/list_registry_models"
        body: dict[str, Any] = {"registry_id": str(registry_id)}
        if page_token:
            body["page_token"] = page_token
        if max_results is not None:
            body["max_results"] = int(max_results)
        if filter:
            body["filter"] = filter
        if order_by:
            body["order_by"] = [order_by] if isinstance(order_by, str) else list(order_by)
        answer = self._http.read(call, body)
        return self._http.parse(call, lambda: RegisteredModelPage.from_json(answer))

    def iter_registry_models(
        self,
        registry_id: str,
        *,
        filter: str | None = None,
        order_by: str | Iterable[str] | None = None,
        page_size: int = 1000,
    ) -> Iterator[RegisteredModel]:
        """Every model of the registry, page after page (stops if a page token comes back)."""
        order = [order_by] if isinstance(order_by, str) else list(order_by or [])
        seen: set[str] = set()
        token: str | None = None
        while True:
            page = self.list_registry_models(
                registry_id,
                page_token=token,
                max_results=page_size,
                filter=filter,
                order_by=order or None,
            )
            yield from page.registered_models
            token = page.next_page_token
            if not token or token in seen:
                return
            seen.add(token)

    def list_model_versions(
        self,
        registry_id: str,
        model_name: str,
        *,
        page_token: str | None = None,
        max_results: int | None = None,
        extended: bool = True,
    ) -> ModelVersionPage:
        """One page of a registered model's versions; ``extended`` adds aliases and tags."""
        call = "models/list_registry_model_versions"
        body: dict[str, Any] = {"registry_id": str(registry_id), "model_name": model_name}
        if page_token:
            body["page_token"] = page_token
        if max_results is not None:
            body["max_results"] = int(max_results)
        if extended:
            body["extended"] = True
        answer = self._http.read(call, body)
        return self._http.parse(call, lambda: ModelVersionPage.from_json(answer))

    def iter_model_versions(
        self,
        registry_id: str,
        model_name: str,
        *,
        page_size: int = 1000,
        extended: bool = True,
    ) -> Iterator[ModelVersion]:
        """Every version of a registered model, page after page."""
        seen: set[str] = set()
        token: str | None = None
        while True:
            page = self.list_model_versions(
                registry_id,
                model_name,
                page_token=token,
                max_results=page_size,
                extended=extended,
            )
            yield from page.model_versions
            token = page.next_page_token
            if not token or token in seen:
                return
            seen.add(token)

    def list_artifacts(self, registry_id: str, name: str, version: str | int) -> list[Artifact]:
        """Every file and directory of a model version."""
        call = "models/list_registry_model_version_artifacts"
        body = {"registry_id": str(registry_id), "name": name, "version": str(version)}
        answer = self._http.read(call, body)
        items = answer.get("artifacts") if isinstance(answer, dict) else answer
        return self._http.parse(call, lambda: [Artifact.from_json(a) for a in items or []])

    def preview_artifact(
        self, registry_id: str, name: str, version: str | int, relative_path: str
    ) -> ArtifactPreview:
        """The first 256 KiB of a version's file, decoded as text (this service's own call;
        a Wallaroo instance answers it with 404)."""
        call = "models/preview_registry_artifact"
        body = {
            "registry_id": str(registry_id),
            "name": name,
            "version": str(version),
            "path": relative_path,
        }
        answer = self._http.read(call, body)
        return self._http.parse(call, lambda: ArtifactPreview.from_json(answer))

    # ---- upload ----------------------------------------------------------------------------

    def upload_from_registry(
        self,
        registry_id: str,
        *,
        name: str,
        path: str,
        workspace_id: int,
        framework: str,
        requirements: Iterable[str] = (),
        input_schema: pa.Schema | str | None = None,
        output_schema: pa.Schema | str | None = None,
        visibility: str = "private",
        python_version: str | None = None,
        model_name: str | None = None,
        model_version: str | int | None = None,
        wait: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> int:
        """Upload one artifact of a registry into a workspace; the new model version's id.

        The service answers at once and fetches the file in the background. With ``wait``
        this returns once the version is ready, calling ``on_progress`` as bytes arrive (in a
        terminal or a script, without a callback, a text bar shows them) and raising
        UploadFailed if the upload ends in error; without it, at once (follow it with
        ``wait_for_upload`` or ``get_upload``).

        The name and framework are checked here first, so a bad one fails before any request.
        ``model_name``/``model_version`` record which registry version the file came from.
        """
        call = "models/upload_from_registry"
        problem = model_name_problem(name)
        if problem:
            raise BadRequest(f"name {name!r} {problem}", call=call, field="name")
        framework = str(getattr(framework, "value", framework))
        if framework not in FRAMEWORKS:
            raise BadRequest(
                f"framework {framework!r} is not one of: {', '.join(FRAMEWORKS)}",
                call=call,
                field="framework",
            )
        reqs = [requirements] if isinstance(requirements, str) else list(requirements)
        conversion: dict[str, Any] = {"framework": framework, "requirements": reqs}
        if python_version is not None:
            conversion["python_version"] = str(python_version)
        body: dict[str, Any] = {
            "registry_id": str(registry_id),
            "name": name,
            "path": path,
            "visibility": visibility,
            "workspace_id": int(workspace_id),
            "conversion": conversion,
        }
        for key, schema in (("input_schema", input_schema), ("output_schema", output_schema)):
            if schema is not None:
                body[key] = schema if isinstance(schema, str) else schema_to_base64(schema)
        if model_name is not None:
            body["model_name"] = model_name
        if model_version is not None:
            body["model_version"] = str(model_version)
        answer = self._http.write(call, body)
        model_version_id = self._http.parse(call, lambda: int(answer["model_id"]))
        if wait:
            self._wait(model_version_id, None, on_progress, label=name)
        return model_version_id

    def get_upload(self, model_version_id: int) -> UploadProgress:
        """Where an upload stands: bytes done and total, rate, attempts, how it ended (this
        service's own call; a Wallaroo instance answers it with 404)."""
        call = "models/get_upload"
        answer = self._http.read(call, {"model_version_id": int(model_version_id)})
        return self._http.parse(call, lambda: UploadProgress.from_json(answer))

    def cancel_upload(self, model_version_id: int) -> UploadProgress:
        """Stop an upload and keep none of its bytes; the upload as it ended (``error``).
        Conflict if it had already ended."""
        call = "models/cancel_upload"
        answer = self._http.write(call, {"model_version_id": int(model_version_id)})
        return self._http.parse(call, lambda: UploadProgress.from_json(answer))

    def wait_for_upload(
        self,
        model_version_id: int,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> UploadProgress:
        """Wait until an upload is ready and return it; UploadFailed if it ends in error.

        ``on_progress`` hears every change (a text bar stands in for it in a terminal or a
        script). After ``timeout`` seconds, TimeoutError naming the model version; the upload
        goes on in the service. Against a Wallaroo instance, which has no
        ``models/get_upload``, the model version's own status is followed instead.
        """
        return self._wait(int(model_version_id), timeout, on_progress, label="")

    def list_uploads(self, workspace_id: int, status: str | None = None) -> list[UploadProgress]:
        """A workspace's uploads, newest first; ``status="uploading"`` for those in flight."""
        call = "models/list_uploads"
        body: dict[str, Any] = {"workspace_id": int(workspace_id)}
        if status is not None:
            if status not in UPLOAD_STATUSES:
                raise BadRequest(
                    f"status {status!r} is not one of: {', '.join(UPLOAD_STATUSES)}",
                    call=call,
                    field="status",
                )
            body["status"] = status
        answer = self._http.read(call, body)
        return self._http.parse(
            call, lambda: [UploadProgress.from_json(u) for u in answer.get("uploads") or []]
        )

    def _wait(
        self,
        model_version_id: int,
        timeout: float | None,
        on_progress: ProgressCallback | None,
        *,
        label: str,
    ) -> UploadProgress:
        bar = None
        if on_progress is None:
            bar = terminal_progress_bar(label or f"model version {model_version_id}")
        try:
            ended = poll_until_done(
                self._upload_poll(model_version_id),
                model_version_id,
                timeout=timeout,
                on_progress=bar if bar is not None else on_progress,
            )
        finally:
            if bar is not None:
                bar.close()
        if ended.status == ERROR:
            reason = self._http.redacted(ended.error or "the service gives no reason")
            raise UploadFailed(
                reason,
                progress=dataclasses.replace(ended, error=reason),
                call="models/get_upload",
            )
        return ended

    def _upload_poll(self, model_version_id: int) -> Callable[[], UploadProgress]:
        """One poll of an upload: ``models/get_upload``, or, once that call turns out not to
        exist (a Wallaroo instance), the model version's own status. A version that does not
        exist is a 404 from both, and that NotFound is raised."""
        use_version = False

        def poll() -> UploadProgress:
            nonlocal use_version
            if not use_version:
                try:
                    return self.get_upload(model_version_id)
                except NotFound:
                    use_version = True
            version = self.get_model_version(model_version_id)
            return self._http.parse(
                "models/get_version", lambda: UploadProgress.from_model_version(version)
            )

        return poll

    # ---- uploaded models -------------------------------------------------------------------

    def list_models(self, workspace_id: int | None = None) -> list[UploadedModel]:
        """Uploaded models, one record per model version (all the caller's workspaces if None)."""
        call = "models/list"
        body = {} if workspace_id is None else {"workspace_id": int(workspace_id)}
        answer = self._http.read(call, body)

        def flatten() -> list[UploadedModel]:
            records = []
            for item in answer.get("models") or []:
                model = item.get("model") or {}
                workspace = item.get("workspace") or {}
                for entry in item.get("model_versions") or []:
                    records.append(UploadedModel.from_json(entry, model=model, workspace=workspace))
            return records

        return self._http.parse(call, flatten)

    def get_model(self, model_id: int) -> dict[str, Any]:
        """A model (one name in one workspace) and its versions, as the API sends it."""
        call = "models/get"
        answer = self._http.read(call, {"id": int(model_id)})
        return self._http.parse(call, lambda: dict(answer))

    def get_model_version(self, model_version_id: int) -> UploadedModel:
        """One uploaded model version (what upload_from_registry returned the id of)."""
        call = "models/get_version"
        answer = self._http.read(call, {"model_version_id": int(model_version_id)})
        return self._http.parse(call, lambda: UploadedModel.from_json(answer))

    # ---- DataFrames ------------------------------------------------------------------------

    def workspaces_frame(self) -> pd.DataFrame:
        """The caller's workspaces as a DataFrame."""
        return _frames().workspaces_frame(self.list_workspaces())

    def registries_frame(self, workspace_id: int | None = None) -> pd.DataFrame:
        """A workspace's registries as a DataFrame."""
        return _frames().registries_frame(self.list_registries(workspace_id))

    def registry_models_frame(
        self,
        registry_id: str,
        filter: str | None = None,
        order_by: str | Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """All of a registry's models (every page) as a DataFrame."""
        models = self.iter_registry_models(registry_id, filter=filter, order_by=order_by)
        return _frames().registered_models_frame(models)

    def model_versions_frame(self, registry_id: str, model_name: str) -> pd.DataFrame:
        """All versions of a registered model as a DataFrame."""
        return _frames().model_versions_frame(self.iter_model_versions(registry_id, model_name))

    def artifacts_frame(self, registry_id: str, name: str, version: str | int) -> pd.DataFrame:
        """A model version's files as a DataFrame."""
        return _frames().artifacts_frame(self.list_artifacts(registry_id, name, version))

    def models_frame(self, workspace_id: int | None = None) -> pd.DataFrame:
        """Uploaded model versions as a DataFrame."""
        return _frames().uploaded_models_frame(self.list_models(workspace_id))

    def uploads_frame(self, workspace_id: int, status: str | None = "uploading") -> pd.DataFrame:
        """A workspace's uploads as a DataFrame, newest first: those in flight by default,
        ``status=None`` for every one."""
        return _frames().uploads_frame(self.list_uploads(workspace_id, status))
