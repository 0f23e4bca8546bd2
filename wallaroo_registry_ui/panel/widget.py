"""RegistryBrowser: the notebook panel, and every step of it as a plain Python call.

The widget keeps the DataFrames in the kernel and syncs only what is on screen: the options of
the two selects, one page of models, the versions and files of what is selected, the upload
form, the uploads in flight. A choice made in the view arrives as a trait change and is loaded
on a worker thread, so the comm handler returns at once; the same choice made from Python runs
in the caller's thread and returns when the data is there (``steps``). Actions (connect,
attach, upload, cancel, ...) are requests matched by id (``protocol``). An upload is a job the
service runs: starting one answers at once, and a thread of the panel asks how it is doing
while any is in flight (``upload_watch``), so nothing waits on it but ``upload(wait=True)``.
Secrets stay in the ``RegistryClient``: the registry token typed in the view passes through one
request and is handed to the client, never kept in a trait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import anywidget
import pandas as pd
import pyarrow as pa
import traitlets as t

from wallaroo_registry_ui.client import frames
from wallaroo_registry_ui.client.client import RegistryClient
from wallaroo_registry_ui.client.errors import (
    Conflict,
    NotFound,
    RegistryApiError,
    UploadFailed,
)
from wallaroo_registry_ui.client.records import ArtifactPreview, UploadProgress
from wallaroo_registry_ui.contract import (
    FRAMEWORKS,
    VISIBILITIES,
    model_name_problem,
    public_url,
    suggest_model_name,
)
from wallaroo_registry_ui.panel import rows, search
from wallaroo_registry_ui.panel.protocol import ViewRequest, failure
from wallaroo_registry_ui.panel.registry_rights import registry_rights
from wallaroo_registry_ui.panel.signatures import describe_schema
from wallaroo_registry_ui.panel.steps import SETTLE_SECONDS, PanelSteps, describe_failure
from wallaroo_registry_ui.panel.upload_defaults import UploadDefaults, guess_upload_defaults
from wallaroo_registry_ui.panel.upload_watch import FollowedUpload, UploadWatch

__all__ = ["RegistryBrowser"]

STATIC = Path(__file__).parent.parent / "static"
MISSING_BUNDLE = (
    "export default { render({ el }) { el.textContent = 'The RegistryBrowser view is not built: "
    "run npm ci && npm run build in the wallaroo-registry-ui source tree.'; } };"
)
PAGE_SIZE = 100
MAX_VERSION_ROWS = 200
MAX_ARTIFACT_ROWS = 500
MAX_UPLOADED_ROWS = 100
PREVIEW_CHARS = 64 * 1024
NO_PREVIEW = "Preview is unavailable on this server; upload defaults were guessed from file names."


def _bundle(name: str, fallback: str) -> Path | str:
    path = STATIC / name
    return path if path.exists() else fallback


def _upload_status(state: str, message: str, model_id: int | None = None) -> dict[str, Any]:
    """The ``upload_status`` trait as the view reads it: the last upload asked for here,
    ``starting`` (not answered yet), ``running`` (the service has it), ``done`` (ready) or
    ``failed`` (refused, or ended in error)."""
    return {"state": state, "message": message, "model_id": model_id}


def _followed_status(upload: FollowedUpload) -> dict[str, Any]:
    """``upload_status`` for the last upload asked for, as the watch last saw it."""
    what = f"{upload.file_name} as {upload.name}: model version {upload.model_version_id}"
    if upload.status == "ready":
        return _upload_status("done", f"Uploaded {what}.", upload.model_version_id)
    if upload.status == "error":
        reason = upload.progress.error if upload.progress is not None else None
        message = f"The upload of {what} failed: {reason or 'the service gave no reason'}."
        return _upload_status("failed", message, upload.model_version_id)
    if upload.status == "unknown":
        message = f"Sent {what}; this server does not report how its uploads go."
        return _upload_status("done", message, upload.model_version_id)
    return _upload_status("running", f"Uploading {what}…", upload.model_version_id)


class RegistryBrowser(anywidget.AnyWidget):
    """Pick a workspace and registry, browse models, versions and files, upload into Wallaroo.

    Display it in a notebook for the panel, or call its methods; each pane is also a DataFrame
    property (``workspaces``, ``registries``, ``models``, ``versions``, ``artifacts``,
    ``uploads``, ``uploaded_models``).

    With no client, ``RegistryClient()`` finds the service and the login in the environment
    (in a JupyterHub server: ``WALLAROO_REGISTRY_URL`` and the hub's own token).
    """

    _esm = _bundle("widget.js", MISSING_BUNDLE)
    _css = _bundle("widget.css", "")

    # What is selected: set from Python (select_*) or by the view.
    workspace_id = t.Int(None, allow_none=True).tag(sync=True)
    registry_id = t.Unicode(None, allow_none=True).tag(sync=True)
    model_name = t.Unicode(None, allow_none=True).tag(sync=True)
    version = t.Unicode(None, allow_none=True).tag(sync=True)
    artifact_path = t.Unicode(None, allow_none=True).tag(sync=True)

    # The models table's search, sort and page, set by the view.
    model_query = t.Unicode("").tag(sync=True)
    model_sort = t.Enum(search.SORT_KEYS, default_value="name").tag(sync=True)
    model_sort_descending = t.Bool(False).tag(sync=True)
    models_offset = t.Int(0, min=0).tag(sync=True)

    # The upload form, pre-filled here and edited in the view.
    upload_name = t.Unicode("").tag(sync=True)
    upload_framework = t.Enum(("", *FRAMEWORKS), default_value="").tag(sync=True)
    upload_requirements = t.Unicode("").tag(sync=True)
    upload_visibility = t.Enum(VISIBILITIES, default_value="private").tag(sync=True)
    upload_workspace_id = t.Int(None, allow_none=True).tag(sync=True)

    # What the view shows; only this side sets these.
    workspace_options = t.List(t.Dict()).tag(sync=True)
    registry_options = t.List(t.Dict()).tag(sync=True)
    other_registries = t.List(t.Dict()).tag(sync=True)
    registry_rights = t.Dict().tag(sync=True)
    model_rows = t.List(t.Dict()).tag(sync=True)
    models_loaded = t.Int(0).tag(sync=True)
    models_matched = t.Int(0).tag(sync=True)
    models_more = t.Bool(False).tag(sync=True)
    page_size = t.Int(PAGE_SIZE, min=1, max=1000).tag(sync=True)
    version_rows = t.List(t.Dict()).tag(sync=True)
    versions_total = t.Int(0).tag(sync=True)
    artifact_rows = t.List(t.Dict()).tag(sync=True)
    artifacts_total = t.Int(0).tag(sync=True)
    preview = t.Dict().tag(sync=True)
    preview_available = t.Bool(True).tag(sync=True)
    upload_frameworks = t.List(t.Unicode(), default_value=list(FRAMEWORKS)).tag(sync=True)
    upload_input_schema = t.List(t.List()).tag(sync=True)
    upload_output_schema = t.List(t.List()).tag(sync=True)
    upload_notes = t.List(t.Unicode()).tag(sync=True)
    upload_name_problem = t.Unicode("").tag(sync=True)
    upload_status = t.Dict(_upload_status("idle", "")).tag(sync=True)
    upload_job_rows = t.List(t.Dict()).tag(sync=True)
    uploaded_rows = t.List(t.Dict()).tag(sync=True)
    uploaded_total = t.Int(0).tag(sync=True)
    busy = t.List(t.Unicode()).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    message = t.Unicode("").tag(sync=True)

    def __init__(
        self,
        client: RegistryClient | None = None,
        *,
        workspace_id: int | None = None,
        registry_id: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if client is None:
            client = RegistryClient()
        if not isinstance(client, RegistryClient):
            raise TypeError("RegistryBrowser needs a RegistryClient (or use .connect(url, token))")
        super().__init__(page_size=page_size)
        self._client = client
        self._steps = PanelSteps(self)
        self._workspaces = frames.workspaces_frame([])
        self._roles: dict[int, str] = {}
        self._registries = frames.registries_frame([])
        self._loaded_models = frames.registered_models_frame([])
        self._next_models_token: str | None = None
        self._versions = frames.model_versions_frame([])
        self._artifacts = frames.artifacts_frame([])
        self._uploaded = frames.uploaded_models_frame([])
        self._defaults: UploadDefaults | None = None
        self._last_upload_id: int | None = None
        self._status_of: int | None = None
        self._jobs_lock = threading.Lock()
        self._watch = UploadWatch(client, self._show_upload_jobs, self._upload_ended)
        self.on_msg(self._on_view_message)
        try:
            with self._steps.from_python("Loading workspaces…"):
                self._load_workspaces()
            if workspace_id is not None:
                self.select_workspace(workspace_id)
            if registry_id is not None:
                self.select_registry(registry_id)
        except Exception:
            self.close()
            raise

    @classmethod
    def connect(
        cls,
        url: str,
        token: str | None = None,
        *,
        workspace_id: int | None = None,
        registry_id: str | None = None,
        **client_options: Any,
    ) -> RegistryBrowser:
        """A panel on the registry API at ``url`` (a Wallaroo instance or the bundled service)."""
        client = RegistryClient(url, token=token, **client_options)
        return cls(client, workspace_id=workspace_id, registry_id=registry_id)

    @classmethod
    def from_wallaroo(
        cls,
        wl: Any,
        *,
        workspace_id: int | None = None,
        registry_id: str | None = None,
        **client_options: Any,
    ) -> RegistryBrowser:
        """A panel using a ``wallaroo.Client``'s endpoint and login."""
        client = RegistryClient.from_wallaroo(wl, **client_options)
        return cls(client, workspace_id=workspace_id, registry_id=registry_id)

    def __repr__(self) -> str:
        return (
            f"RegistryBrowser({self._client.base_url!r}, workspace_id={self.workspace_id!r}, "
            f"registry_id={self.registry_id!r}, model_name={self.model_name!r}, "
            f"version={self.version!r})"
        )

    def close(self) -> None:
        """Close the view and stop the background work; uploads go on in the service."""
        steps = getattr(self, "_steps", None)
        if steps is not None:
            steps.shutdown()
        watch = getattr(self, "_watch", None)
        if watch is not None:
            watch.close()
        super().close()

    # ---- DataFrames -------------------------------------------------------------------------

    @property
    def client(self) -> RegistryClient:
        """The RegistryClient this panel talks through."""
        return self._client

    @property
    def workspaces(self) -> pd.DataFrame:
        """The caller's workspaces."""
        self._steps.settle()
        return self._workspaces.copy()

    @property
    def registries(self) -> pd.DataFrame:
        """The registries attached to the selected workspace."""
        self._steps.settle()
        return self._registries.copy()

    @property
    def versions(self) -> pd.DataFrame:
        """Every version of the selected model."""
        self._steps.settle()
        return self._versions.copy()

    @property
    def artifacts(self) -> pd.DataFrame:
        """Every file and folder of the selected version."""
        self._steps.settle()
        return self._artifacts.copy()

    @property
    def uploaded_models(self) -> pd.DataFrame:
        """The model versions uploaded into the selected workspace."""
        self._steps.settle()
        return self._uploaded.copy()

    @property
    def upload_defaults(self) -> UploadDefaults | None:
        """What the upload form was pre-filled with for the selected version."""
        self._steps.settle()
        return self._defaults

    @property
    def last_upload_id(self) -> int | None:
        """The id of the model version the last upload asked for here created (at once: the
        upload may still be in flight, see ``uploads``)."""
        self._steps.settle()
        return self._last_upload_id

    @property
    def uploads(self) -> pd.DataFrame:
        """The uploads the panel shows, newest first: those started here, those of the
        workspace still in flight when it was chosen, and the last ones that ended; with the
        file's name and, once ready, its sha256."""
        self._steps.settle()
        followed = [u for u in self._watch.followed() if u.progress is not None]
        frame = frames.uploads_frame([u.progress for u in followed if u.progress is not None])
        frame["name"] = [u.name for u in followed]
        frame["workspace_id"] = pd.array([u.workspace_id for u in followed], dtype="Int64")
        frame.insert(2, "file_name", [u.file_name for u in followed])
        frame["sha"] = [u.sha for u in followed]
        return frame

    @property
    def models(self) -> pd.DataFrame:
        """The registry's models loaded so far (see ``load_more_models``), in the registry's
        order, narrowed by the search text."""
        self._steps.settle()
        return self._matching_models().copy()

    def wait_until_idle(self, timeout: float | None = SETTLE_SECONDS) -> None:
        """Wait until what the view asked for (loading, uploading) is done."""
        self._steps.wait_until_idle(timeout)

    # ---- steps ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload workspaces, registries, the first page of models and the uploaded models."""
        with self._steps.from_python("Refreshing…"):
            self._refresh()

    def select_workspace(self, workspace_id: int | None) -> pd.DataFrame:
        """Choose a workspace; returns its registries."""
        with self._steps.from_python("Loading workspace…"):
            self._apply_workspace(workspace_id)
            return self._registries.copy()

    def select_registry(self, registry_id: str | None) -> pd.DataFrame:
        """Choose one of the workspace's registries; returns the first page of its models."""
        with self._steps.from_python("Loading models…"):
            self._apply_registry(registry_id)
            return self._matching_models().copy()

    def select_model(self, name: str | None) -> pd.DataFrame:
        """Choose a registered model; returns its versions."""
        with self._steps.from_python("Loading versions…"):
            self._apply_model(name)
            return self._versions.copy()

    def select_version(self, version: str | int | None) -> pd.DataFrame:
        """Choose a version; returns its files and pre-fills the upload form."""
        with self._steps.from_python("Loading files…"):
            self._apply_version(None if version is None else str(version))
            return self._artifacts.copy()

    def select_artifact(self, path: str | None) -> None:
        """Choose which file of the version to upload (its ``relative_path``)."""
        with self._steps.from_python("Choosing file…"):
            self._apply_artifact(path)

    def search_models(self, query: str) -> pd.DataFrame:
        """Show only models whose name contains ``query`` (asked of the registry)."""
        with self._steps.from_python("Searching models…"):
            self.model_query = query
            self._fetch_models(reset=True)
            return self._matching_models().copy()

    def sort_models(self, by: str = "name", *, descending: bool = False) -> pd.DataFrame:
        """Sort models by ``"name"`` or ``"updated"`` (asked of the registry)."""
        with self._steps.from_python("Sorting models…"):
            with self.hold_sync():
                self.model_sort = by
                self.model_sort_descending = descending
            self._fetch_models(reset=True)
            return self._matching_models().copy()

    def load_more_models(self) -> int:
        """Fetch the registry's next page of models; how many are loaded now."""
        with self._steps.from_python("Loading more models…"):
            self._load_more()
            return len(self._loaded_models)

    def load_all_models(self) -> pd.DataFrame:
        """Follow the registry's pages to the end; every matching model."""
        with self._steps.from_python("Loading all models…"):
            while self._next_models_token:
                self._load_more()
            return self._matching_models().copy()

    def preview_file(self, path: str | None = None) -> str:
        """The text of a small file of the selected version (default: the chosen file)."""
        with self._steps.from_python("Reading file…"):
            return self._preview(path or self.artifact_path or "")

    def connect_registry(self, name: str, url: str, token: str = "") -> str:
        """Connect a registry, attach it to the selected workspace and select it; its id."""
        with self._steps.from_python("Connecting registry…", secrets=(token,)):
            return self._connect(name, url, token)

    def attach_registry(self, registry_id: str) -> None:
        """Attach a registry you can see to the selected workspace."""
        with self._steps.from_python("Attaching registry…"):
            self._attach(registry_id)

    def detach_registry(self, registry_id: str | None = None) -> None:
        """Detach a registry (default: the selected one) from the selected workspace."""
        with self._steps.from_python("Detaching registry…"):
            self._detach(registry_id or self.registry_id or "")

    def upload(
        self,
        name: str | None = None,
        *,
        framework: str | None = None,
        requirements: Sequence[str] | None = None,
        input_schema: pa.Schema | None = None,
        output_schema: pa.Schema | None = None,
        visibility: str | None = None,
        workspace_id: int | None = None,
        path: str | None = None,
        wait: bool = True,
    ) -> int:
        """Upload the selected version's file into a workspace; the new model version's id.

        The service answers at once and moves the file in the background, and the panel shows
        it among its uploads (progress, rate, time left, Cancel). With ``wait`` this returns
        once the version is ready, raising UploadFailed if the upload ends in error;
        ``wait=False`` returns at once (then ``wait_for_upload`` or ``cancel_upload``).

        Every argument left out takes the form's value, which starts as the guessed default:
        a DNS-safe name, the framework of the MLmodel flavors, requirements.txt, the schemas
        of the MLmodel signature, private, the selected workspace, the model file.
        """
        with self._steps.from_python("Starting upload…"):
            model_id = self._upload(
                name=name,
                framework=framework,
                requirements=requirements,
                input_schema=input_schema,
                output_schema=output_schema,
                visibility=visibility,
                workspace_id=workspace_id,
                path=path,
            )
        if wait:
            self.wait_for_upload(model_id)
        return model_id

    def wait_for_upload(
        self, model_version_id: int, timeout: float | None = None
    ) -> UploadProgress | None:
        """Wait until an upload has ended and return how (None where the server does not
        report uploads); UploadFailed if it ended in error, TimeoutError after ``timeout``
        seconds (the upload goes on). The panel shows it meanwhile."""
        if self._watch.get(model_version_id) is None:
            self._watch.follow(model_version_id)
        ended = self._watch.wait(model_version_id, timeout)
        self._steps.settle()  # what the end changed (the uploaded models) is loaded too
        if ended.status == "error" and ended.progress is not None:
            raise UploadFailed(
                ended.progress.error or "the service gave no reason",
                progress=ended.progress,
                call="models/get_upload",
            )
        return ended.progress

    def cancel_upload(self, model_version_id: int) -> UploadProgress:
        """Stop an upload in flight; the service keeps none of its bytes. Conflict if it had
        already ended."""
        with self._steps.from_python("Cancelling upload…"):
            return self._cancel(int(model_version_id))

    # ---- the view's side of the comm -------------------------------------------------------

    # A selection made in the view, and the step that loads what it implies.
    SELECTION_STEPS: dict[str, tuple[str, str]] = {
        "workspace_id": ("Loading workspace…", "_apply_workspace"),
        "registry_id": ("Loading models…", "_apply_registry"),
        "model_name": ("Loading versions…", "_apply_model"),
        "version": ("Loading files…", "_apply_version"),
        "artifact_path": ("Choosing file…", "_apply_artifact"),
    }
    MODEL_LIST_CONTROLS = frozenset({"model_query", "model_sort", "model_sort_descending"})

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """A change from the view: apply it, then load what it implies on the worker."""
        super().set_state(sync_data)
        for key, (label, step) in self.SELECTION_STEPS.items():
            if key in sync_data:
                self._steps.from_view(label, partial(getattr(self, step), getattr(self, key)))
        if self.MODEL_LIST_CONTROLS.intersection(sync_data):
            self._steps.from_view("Searching models…", partial(self._fetch_models, reset=True))
        elif "models_offset" in sync_data:
            self._steps.from_view(
                "Showing models…", partial(self._show_models_page, self.models_offset)
            )

    def _on_view_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        try:
            request = ViewRequest.parse(content)
        except ValueError as exc:
            request_id = content.get("id") if isinstance(content, dict) else None
            if isinstance(request_id, str):
                self.send(failure(request_id, str(exc)))
            return
        if request.type == "connect_registry":
            name, url = request.text("name"), request.text("url")
            token = request.text("token")
            request.args.pop("token", None)
            content.pop("token", None)
            self._steps.from_view(
                "Connecting registry…",
                lambda: {"registry_id": self._connect(name, url, token)},
                request.id,
                secrets=(token,),
            )
            return
        actions: dict[str, tuple[str, Callable[[], dict[str, Any] | None]]] = {
            "attach_registry": (
                "Attaching registry…",
                lambda: self._attach(request.text("registry_id")),
            ),
            "detach_registry": (
                "Detaching registry…",
                lambda: self._detach(request.text("registry_id") or self.registry_id or ""),
            ),
            "load_more": ("Loading more models…", self._load_more),
            "preview": ("Reading file…", lambda: self._preview_request(request.text("path"))),
            "upload": ("Starting upload…", lambda: {"model_id": self._upload()}),
            "refresh": ("Refreshing…", self._refresh),
        }
        if request.type == "cancel_upload":
            self._steps.alongside(
                "Cancelling upload…", lambda: self._cancel_request(request), request.id
            )
            return
        label, work = actions[request.type]
        self._steps.from_view(label, work, request.id)

    def _cancel_request(self, request: ViewRequest) -> dict[str, Any]:
        progress = self._cancel(request.integer("model_version_id"))
        return {"model_version_id": progress.model_version_id, "status": progress.status}

    def _preview_request(self, path: str) -> dict[str, Any]:
        path = path or self.artifact_path or ""
        return {"path": path, "chars": len(self._preview(path))}

    @t.observe("upload_name")
    def _check_upload_name(self, change: dict[str, Any]) -> None:
        name = change["new"]
        self.upload_name_problem = (model_name_problem(name) or "") if name else ""

    # ---- loading ---------------------------------------------------------------------------

    def _refresh(self) -> None:
        self._load_workspaces()
        if self.workspace_id is not None:
            self._load_registries()
            self._load_uploaded()
            self._follow_in_flight()
        if self.registry_id is not None:
            self._fetch_models(reset=True)

    def _load_workspaces(self) -> None:
        workspaces = self._client.list_workspaces()
        self._workspaces = frames.workspaces_frame(workspaces)
        self._roles = {w.id: w.user_type for w in workspaces}
        self.workspace_options = [{"id": w.id, "name": w.name} for w in workspaces]

    def _load_registries(self) -> None:
        attached = self._client.list_registries(self.workspace_id)
        visible = self._client.list_registries()
        attachable = {r.id for r in self._client.list_registries(attachable=True)}
        attached_ids = {r.id for r in attached}
        not_attachable = sum(r.id not in attached_ids | attachable for r in visible)
        role = self._roles.get(self.workspace_id, "")
        self._registries = frames.registries_frame(attached)
        with self.hold_sync():
            self.registry_rights = registry_rights(role, not_attachable)
            self.registry_options = [
                {"id": r.id, "name": r.name, "kind": r.kind or "", "url": public_url(r.url)}
                for r in attached
            ]
            self.other_registries = [
                {"id": r.id, "name": r.name, "kind": r.kind or ""}
                for r in visible
                if r.id not in attached_ids and r.id in attachable
            ]

    def _load_uploaded(self) -> None:
        uploaded = self._client.models_frame(self.workspace_id)
        self._uploaded = uploaded
        page, total = frames.page_of(
            uploaded, offset=0, limit=MAX_UPLOADED_ROWS, sort_by="version_id", ascending=False
        )
        with self.hold_sync():
            self.uploaded_rows = rows.uploaded_rows(page)
            self.uploaded_total = total

    def _apply_workspace(self, workspace_id: int | None) -> None:
        known = {option["id"] for option in self.workspace_options}
        if workspace_id is not None and workspace_id not in known:
            raise ValueError(f"workspace {workspace_id} is not one of yours ({sorted(known)})")
        with self.hold_sync():
            self.workspace_id = workspace_id
            self.upload_workspace_id = workspace_id
            self.registry_id = None
            self.registry_options = []
            self.other_registries = []
            self.registry_rights = {}
            self._registries = frames.registries_frame([])
            self._uploaded = frames.uploaded_models_frame([])
            self.uploaded_rows = []
            self.uploaded_total = 0
            self._clear_models()
        if workspace_id is not None:
            self._load_registries()
            self._load_uploaded()
            self._follow_in_flight()

    def _apply_registry(self, registry_id: str | None) -> None:
        known = {option["id"] for option in self.registry_options}
        if registry_id is not None and registry_id not in known:
            raise ValueError(
                f"registry {registry_id} is not attached to workspace {self.workspace_id}"
            )
        with self.hold_sync():
            self.registry_id = registry_id
            self._clear_models()
        if registry_id is not None:
            self._fetch_models(reset=True)

    def _clear_models(self) -> None:
        self._loaded_models = frames.registered_models_frame([])
        self._next_models_token = None
        self.model_rows = []
        self.models_loaded = 0
        self.models_matched = 0
        self.models_more = False
        self.models_offset = 0
        self.model_name = None
        self._clear_versions()

    def _clear_versions(self) -> None:
        self._versions = frames.model_versions_frame([])
        self.version = None
        self.version_rows = []
        self.versions_total = 0
        self._clear_artifacts()

    def _clear_artifacts(self) -> None:
        self._artifacts = frames.artifacts_frame([])
        self._defaults = None
        self.artifact_path = None
        self.artifact_rows = []
        self.artifacts_total = 0
        self.preview = {}
        self.upload_input_schema = []
        self.upload_output_schema = []
        self.upload_notes = []

    def _fetch_models(self, *, reset: bool) -> None:
        if self.registry_id is None:
            raise ValueError("choose a registry first")
        page = self._client.list_registry_models(
            self.registry_id,
            page_token=None if reset else self._next_models_token,
            max_results=self.page_size,
            filter=search.name_filter(self.model_query),
            order_by=search.order_by(self.model_sort, self.model_sort_descending),
        )
        fetched = frames.registered_models_frame(page.registered_models)
        if reset or self._loaded_models.empty:
            loaded = fetched
        else:
            loaded = pd.concat([self._loaded_models, fetched], ignore_index=True)
        before = 0 if reset else len(self._matching_models())
        self._show_loaded_models(loaded, page.next_page_token, before)

    def _load_more(self) -> dict[str, Any]:
        if self._next_models_token is None:
            raise ValueError("every model of this registry is loaded already")
        self._fetch_models(reset=False)
        return {"loaded": len(self._loaded_models), "more": self.models_more}

    def _show_loaded_models(
        self, loaded: pd.DataFrame, next_token: str | None, offset: int = 0
    ) -> None:
        """Keep ``loaded`` as the models so far and show the page holding row ``offset``."""
        self._loaded_models = loaded.reset_index(drop=True)
        self._next_models_token = next_token
        self._show_models_page(offset)

    def _matching_models(self) -> pd.DataFrame:
        frame = self._loaded_models
        return frame[search.name_matches(frame, self.model_query)]

    def _show_models_page(self, offset: int) -> None:
        matching = self._matching_models()
        size = self.page_size
        last_page = max(0, (len(matching) - 1) // size * size)
        offset = min(max(0, offset // size * size), last_page)
        page, total = frames.page_of(matching, offset=offset, limit=size)
        with self.hold_sync():
            self.model_rows = rows.model_rows(page)
            self.models_loaded = len(self._loaded_models)
            self.models_matched = total
            self.models_more = self._next_models_token is not None
            self.models_offset = offset

    def _apply_model(self, name: str | None) -> None:
        if name is not None and self.registry_id is None:
            raise ValueError("choose a registry first")
        with self.hold_sync():
            self.model_name = name
            self._clear_versions()
            if name is not None:
                self.upload_name = suggest_model_name(name)
        if name is None:
            return
        versions = self._client.model_versions_frame(self.registry_id, name)
        self._versions = versions
        page, total = frames.page_of(
            versions, offset=0, limit=MAX_VERSION_ROWS, sort_by="version", ascending=False
        )
        with self.hold_sync():
            self.version_rows = rows.version_rows(page)
            self.versions_total = total

    def _apply_version(self, version: str | None) -> None:
        known = set(self._versions["version"].astype(str))
        if version is not None and version not in known:
            raise ValueError(f"{self.model_name!r} has no version {version!r}")
        with self.hold_sync():
            self.version = version
            self._clear_artifacts()
        if version is None:
            return
        artifacts = self._client.artifacts_frame(self.registry_id, self.model_name, version)
        self._artifacts = artifacts
        tree = rows.artifact_tree(artifacts)
        with self.hold_sync():
            self.artifact_rows = tree[:MAX_ARTIFACT_ROWS]
            self.artifacts_total = len(tree)
        defaults = guess_upload_defaults(self.model_name or "", artifacts, self._small_text)
        self._apply_defaults(defaults)

    def _apply_defaults(self, defaults: UploadDefaults) -> None:
        notes = list(defaults.notes)
        if not self.preview_available:
            notes.append(NO_PREVIEW)
        with self.hold_sync():
            self._defaults = defaults
            self.upload_name = defaults.name
            self.upload_framework = defaults.framework
            self.upload_requirements = "\n".join(defaults.requirements)
            self.upload_input_schema = _schema_rows(defaults.input_schema)
            self.upload_output_schema = _schema_rows(defaults.output_schema)
            self.upload_notes = notes
            if self.upload_workspace_id is None:
                self.upload_workspace_id = self.workspace_id
            self.artifact_path = defaults.path

    def _apply_artifact(self, path: str | None) -> None:
        if path is not None:
            self._full_path(path)
        self.artifact_path = path

    def _full_path(self, relative_path: str) -> str:
        files = self._artifacts[~self._artifacts["is_dir"].astype(bool)]
        hit = files[files["relative_path"] == relative_path]
        if hit.empty:
            raise ValueError(f"{relative_path!r} is not a file of the selected version")
        return str(hit["full_path"].iloc[0])

    def _small_text(self, relative_path: str) -> str | None:
        """A small file's text for guessing defaults; None when the server cannot preview."""
        try:
            found = self._read_preview(relative_path)
        except RegistryApiError:
            return None
        return None if found.binary else found.text

    def _read_preview(self, relative_path: str) -> ArtifactPreview:
        """The start of a file of the selected version. NotFound means this server has no
        preview (a Wallaroo instance): it is asked only once."""
        if not self.preview_available:
            raise NotFound(NO_PREVIEW, call="models/preview_registry_artifact")
        try:
            return self._client.preview_artifact(
                self.registry_id, self.model_name, self.version, relative_path
            )
        except NotFound:
            self.preview_available = False
            raise

    def _preview(self, path: str) -> str:
        if self.version is None:
            raise ValueError("choose a version first")
        self._full_path(path)
        try:
            found = self._read_preview(path)
        except NotFound:
            self.preview = {"path": path, "text": "", "note": NO_PREVIEW}
            raise
        text = "" if found.binary else found.text
        note = "A binary file: nothing to show." if found.binary else ""
        truncated = found.truncated or len(text) > PREVIEW_CHARS
        if truncated:
            note = "Showing the start of the file only."
        self.preview = {
            "path": path,
            "text": text[:PREVIEW_CHARS],
            "size": rows.human_size(found.size),
            "truncated": truncated,
            "note": note,
        }
        return text

    # ---- registries ------------------------------------------------------------------------

    def _connect(self, name: str, url: str, token: str) -> str:
        if self.workspace_id is None:
            raise ValueError("choose a workspace first: the new registry is attached to it")
        if not name.strip() or not url.strip():
            raise ValueError("a registry needs a name and a URL")
        registry_id = self._client.create_registry(
            name.strip(), url.strip(), token=token, workspace_id=self.workspace_id
        )
        self._load_registries()
        self._apply_registry(registry_id)
        self.message = f"Connected registry {name.strip()!r} to this workspace."
        return registry_id

    def _attach(self, registry_id: str) -> None:
        if self.workspace_id is None:
            raise ValueError("choose a workspace first")
        if not registry_id:
            raise ValueError("choose a registry to attach")
        self._client.attach_registry(registry_id, self.workspace_id)
        self._load_registries()
        self._apply_registry(registry_id)
        self.message = "Registry attached to this workspace."

    def _detach(self, registry_id: str) -> None:
        if self.workspace_id is None or not registry_id:
            raise ValueError("choose a workspace and a registry to detach")
        self._client.detach_registry(registry_id, self.workspace_id)
        if registry_id == self.registry_id:
            self._apply_registry(None)
        self._load_registries()
        self.message = "Registry detached from this workspace."

    # ---- upload ----------------------------------------------------------------------------

    def _upload(
        self,
        *,
        name: str | None = None,
        framework: str | None = None,
        requirements: Sequence[str] | None = None,
        input_schema: pa.Schema | None = None,
        output_schema: pa.Schema | None = None,
        visibility: str | None = None,
        workspace_id: int | None = None,
        path: str | None = None,
    ) -> int:
        if self.registry_id is None or self.model_name is None or self.version is None:
            raise ValueError("choose a registry, a model and a version first")
        path = path or self.artifact_path
        if not path:
            raise ValueError("choose the file to upload in the version's files")
        target = workspace_id if workspace_id is not None else self.upload_workspace_id
        if target is None:
            target = self.workspace_id
        if target is None:
            raise ValueError("choose the target workspace")
        defaults = self._defaults
        reqs = (
            list(requirements)
            if requirements is not None
            else [r.strip() for r in self.upload_requirements.splitlines() if r.strip()]
        )
        name = name or self.upload_name
        with self._jobs_lock:
            self._status_of = None
            self.upload_status = _upload_status(
                "starting",
                f"Starting the upload of {path} of {self.model_name} v{self.version} as {name}…",
            )
        try:
            model_id = self._client.upload_from_registry(
                self.registry_id,
                name=name,
                path=self._full_path(path),
                workspace_id=int(target),
                framework=framework or self.upload_framework or "custom",
                requirements=reqs,
                input_schema=input_schema or (defaults.input_schema if defaults else None),
                output_schema=output_schema or (defaults.output_schema if defaults else None),
                visibility=visibility or self.upload_visibility,
                model_name=self.model_name,
                model_version=self.version,
                wait=False,
            )
        except Exception as exc:
            self.upload_status = _upload_status("failed", describe_failure(exc))
            raise
        self._last_upload_id = self._status_of = model_id
        self._watch.follow(model_id, file_name=path, name=name, workspace_id=int(target))
        if target == self.workspace_id:
            self._load_uploaded()
        return model_id

    def _cancel(self, model_version_id: int) -> UploadProgress:
        try:
            progress = self._client.cancel_upload(model_version_id)
        except Conflict:
            self._watch.update(self._client.get_upload(model_version_id))
            raise
        self._watch.update(progress)
        return progress

    # ---- uploads in flight -----------------------------------------------------------------

    def _follow_in_flight(self) -> None:
        """Show the workspace's uploads still in flight, wherever they were started (another
        panel, a kernel since restarted, a script)."""
        try:
            uploads = self._client.list_uploads(self.workspace_id, status="uploading")
        except NotFound:
            return  # a server without upload jobs (a Wallaroo instance)
        files = dict(zip(self._uploaded["version_id"], self._uploaded["file_name"], strict=True))
        for progress in uploads:
            self._watch.follow(
                progress.model_version_id,
                progress=progress,
                file_name=str(files.get(progress.model_version_id, "")),
                workspace_id=self.workspace_id,
            )

    def _show_upload_jobs(self, followed: list[FollowedUpload]) -> None:
        """Called by the watch, in order: the uploads pane, and the form's status line while
        it is about an upload the watch follows."""
        with self._jobs_lock:
            self.upload_job_rows = rows.upload_job_rows(followed)
            last = next((u for u in followed if u.model_version_id == self._status_of), None)
            if last is not None:
                self.upload_status = _followed_status(last)

    def _upload_ended(self, upload: FollowedUpload) -> None:
        """An upload has ended: the uploaded models show its new status (and sha256)."""
        if self._watch.closed or self.workspace_id is None:
            return
        if upload.workspace_id not in (None, self.workspace_id):
            return
        self._steps.from_kernel("Loading uploaded models…", self._reload_uploaded)

    def _reload_uploaded(self) -> None:
        if self.workspace_id is not None:
            self._load_uploaded()


def _schema_rows(schema: pa.Schema | None) -> list[list[str]]:
    return [] if schema is None else [list(pair) for pair in describe_schema(schema)]
