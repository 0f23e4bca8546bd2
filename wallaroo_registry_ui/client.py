"""RegistryClient: the registry API of a Wallaroo instance (or the bundled service) from Python.

One method per API call, returning frozen dataclasses (``records``) or DataFrames (``frames``).
Reads are retried on transient failures within a bounded time; writes are sent once, because
a repeated create or upload is not harmless. Errors are typed (``errors``) and never carry the
API token, which lives in a private attribute and is sent only as the Authorization header.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import pyarrow as pa
import requests

from wallaroo_registry_ui import frames
from wallaroo_registry_ui.errors import (
    BadRequest,
    ConnectionFailed,
    RegistryApiError,
    describe_body,
    error_from_response,
    redact,
)
from wallaroo_registry_ui.records import (
    Artifact,
    ArtifactPreview,
    ModelVersion,
    ModelVersionPage,
    RegisteredModel,
    RegisteredModelPage,
    Registry,
    UploadedModel,
    Workspace,
    WorkspaceUser,
)
from wallaroo_registry_ui.schemas import FRAMEWORKS, model_name_problem, schema_to_base64

__all__ = ["RegistryClient"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_BASE_DELAY = 0.2
RETRY_MAX_DELAY = 8.0
MAX_REMEMBERED_TOKENS = 8

T = TypeVar("T")

_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def _user_agent() -> str:
    try:
        version = metadata.version("wallaroo-registry-ui")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"wallaroo-registry-ui/{version} python-requests/{requests.__version__}"


def _normalized_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/v1/api"):
        path = path[: -len("/v1/api")]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _displayed_url(base_url: str) -> str:
    """The base URL without any user:password part."""
    parts = urlsplit(base_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _connection_reason(exc: requests.RequestException) -> str:
    """A one-line reason for a failure without an HTTP answer (urllib3's text is long)."""
    found = _ERRNO_REASON.search(str(exc))
    if found:
        return found.group(1).strip().lower()
    return type(exc).__name__


@dataclass(frozen=True)
class _Failure:
    """One attempt that did not succeed, and whether repeating it could help."""

    error: RegistryApiError
    retryable: bool
    retry_after: float | None = None


class RegistryClient:
    """A client of the Wallaroo registry API: workspaces, registries, registry models, uploads."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_retry_seconds: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self._base_url = _normalized_base_url(base_url)
        self._token = token or None
        self._auth_header_source: Callable[[], Mapping[str, str]] | None = None
        self._seen_tokens: list[str] = []
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._max_retry_seconds = max_retry_seconds
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._user_agent = _user_agent()

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
        client = cls(endpoint, None, **options)
        client._auth_header_source = auth_header
        return client

    @property
    def base_url(self) -> str:
        """The API's root URL (without ``/v1/api``)."""
        return _displayed_url(self._base_url)

    def __repr__(self) -> str:
        return f"RegistryClient({self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- transport ---------------------------------------------------------------------------

    def _secrets(self) -> list[str]:
        return [t for t in (self._token, *self._seen_tokens) if t]

    def _remember_token(self, token: str) -> None:
        if token and token not in self._seen_tokens:
            self._seen_tokens.append(token)
            del self._seen_tokens[:-MAX_REMEMBERED_TOKENS]

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        if self._auth_header_source is not None:
            for name, value in dict(self._auth_header_source()).items():
                if name.lower() == "authorization" and value:
                    scheme, _, credential = str(value).partition(" ")
                    self._remember_token(credential or scheme)
                    headers["Authorization"] = str(value)
        elif self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _attempt(self, method: str, call: str, url: str, body: Any) -> Any | _Failure:
        try:
            response = self._session.request(
                method,
                url,
                json=body,
                headers=self._headers(),
                timeout=(self._connect_timeout, self._timeout),
                allow_redirects=False,
            )
        except requests.ConnectTimeout:
            reason, retryable = f"could not connect within {self._connect_timeout:g} s", True
        except requests.ReadTimeout:
            reason = f"no answer within {self._timeout:g} s"
            retryable = False
        except requests.exceptions.SSLError:
            reason, retryable = "the TLS handshake failed", False
        except requests.ConnectionError as exc:
            reason, retryable = f"could not reach the server ({_connection_reason(exc)})", True
        except requests.exceptions.ChunkedEncodingError:
            reason, retryable = "the connection broke off during the answer", True
        except requests.RequestException as exc:
            reason, retryable = f"the request failed ({type(exc).__name__})", False
        else:
            return self._answer(call, response)
        message = redact(f"{reason} at {self.base_url}", self._secrets())
        return _Failure(ConnectionFailed(message, call=call), retryable)

    def _answer(self, call: str, response: requests.Response) -> Any | _Failure:
        status = response.status_code
        if 200 <= status < 300:
            if not response.content.strip():
                return None
            try:
                return response.json()
            except ValueError:
                got = describe_body(response.text, response.headers.get("Content-Type", ""))
                message = redact(f"expected JSON, got {got}", self._secrets())
                return _Failure(RegistryApiError(message, status=status, call=call), False)
        error = error_from_response(
            call,
            status,
            response.text,
            response.headers.get("Content-Type", ""),
            secrets=self._secrets(),
        )
        if 300 <= status < 400:
            where = _displayed_url(response.headers.get("Location", "")) or "elsewhere"
            error = RegistryApiError(
                redact(f"redirected to {where}; check the base URL", self._secrets()),
                status=status,
                call=call,
            )
        return _Failure(
            error,
            retryable=status in RETRY_STATUSES,
            retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
        )

    def _backoff(self, attempt: int) -> float:
        ceiling = min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * (2**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _request(self, method: str, call: str, body: Any, *, retry: bool) -> Any:
        """Send a call; when ``retry``, repeat transient failures with jittered exponential
        backoff (or the server's Retry-After), starting no attempt after max_retry_seconds."""
        url = f"{self._base_url}/v1/api/{call}"
        deadline = time.monotonic() + self._max_retry_seconds
        attempt = 0
        while True:
            outcome = self._attempt(method, call, url, body)
            if not isinstance(outcome, _Failure):
                return outcome
            if not (retry and outcome.retryable):
                raise outcome.error
            delay = outcome.retry_after
            if delay is None:
                delay = self._backoff(attempt)
            if time.monotonic() + delay > deadline:
                raise outcome.error
            time.sleep(delay)
            attempt += 1

    def _read(self, call: str, body: dict[str, Any] | None = None) -> Any:
        """An idempotent call: retried on connection failures, 429 and 502/503/504."""
        return self._request("POST", call, body if body is not None else {}, retry=True)

    def _write(self, call: str, body: dict[str, Any]) -> Any:
        """A call that changes something: sent exactly once."""
        return self._request("POST", call, body, retry=False)

    def _parse(self, call: str, parse: Callable[[], T]) -> T:
        """Turn a response of the wrong shape into a RegistryApiError naming the call."""
        try:
            return parse()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            error = RegistryApiError(
                redact(f"unexpected response shape ({problem})", self._secrets())[:300],
                status=200,
                call=call,
            )
        raise error

    # ---- config ----------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The server's configuration (``default_arch``, version); needs no login."""
        answer = self._request("GET", "config", None, retry=True)
        return answer if isinstance(answer, dict) else {}

    # ---- workspaces ------------------------------------------------------------------------

    def create_workspace(self, name: str) -> int:
        """Create a workspace (the caller becomes its owner); its id."""
        call = "workspaces/create"
        answer = self._write(call, {"workspace_name": name})
        return self._parse(call, lambda: int(answer["workspace_id"]))

    def list_workspaces(self) -> list[Workspace]:
        """The workspaces the caller belongs to."""
        call = "workspaces/list"
        answer = self._read(call, {})
        return self._parse(
            call, lambda: [Workspace.from_json(w) for w in answer.get("workspaces") or []]
        )

    def add_user(self, workspace_id: int, email: str) -> None:
        """Make a user a member of a workspace."""
        self._write("workspaces/add_user", {"workspace_id": int(workspace_id), "email": email})

    def list_users(self, workspace_id: int) -> list[WorkspaceUser]:
        """The members of a workspace."""
        call = "workspaces/list_users"
        answer = self._read(call, {"workspace_id": int(workspace_id)})
        return self._parse(
            call, lambda: [WorkspaceUser.from_json(u) for u in answer.get("users") or []]
        )

    def remove_user(self, workspace_id: int, email: str) -> int:
        """Remove a member; how many memberships were removed (0 if they were not one)."""
        call = "workspaces/remove_user"
        answer = self._write(call, {"workspace_id": int(workspace_id), "email": email})
        return self._parse(call, lambda: int((answer or {}).get("affected_rows", 0)))

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
        answer = self._write(call, body)
        return self._parse(call, lambda: str(answer["id"]))

    def attach_registry(self, registry_id: str, workspace_id: int) -> None:
        """Make a registry available to a workspace's members."""
        self._write(
            "models/attach_registry_to_workspace",
            {"registry_id": str(registry_id), "workspace_id": int(workspace_id)},
        )

    def detach_registry(self, registry_id: str, workspace_id: int) -> None:
        """Remove a registry from a workspace (the registry itself stays)."""
        self._write(
            "models/remove_registry_from_workspace",
            {"registry_id": str(registry_id), "workspace_id": int(workspace_id)},
        )

    def get_registry(self, registry_id: str) -> Registry:
        """One registry, with the workspaces it is attached to."""
        call = "models/get_registry"
        answer = self._read(call, {"registry_id": str(registry_id)})
        return self._parse(call, lambda: Registry.from_json(answer))

    def list_registries(self, workspace_id: int | None = None) -> list[Registry]:
        """The registries attached to a workspace (without one: every registry the caller sees)."""
        call = "models/list_registries"
        body = {} if workspace_id is None else {"workspace_id": int(workspace_id)}
        answer = self._read(call, body)
        items = answer.get("registries") if isinstance(answer, dict) else answer
        return self._parse(call, lambda: [Registry.from_json(r) for r in items or []])

    # ---- registry contents -----------------------------------------------------------------

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
        answer = self._read(call, body)
        return self._parse(call, lambda: RegisteredModelPage.from_json(answer))

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
        answer = self._read(call, body)
        return self._parse(call, lambda: ModelVersionPage.from_json(answer))

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
        answer = self._read(call, body)
        items = answer.get("artifacts") if isinstance(answer, dict) else answer
        return self._parse(call, lambda: [Artifact.from_json(a) for a in items or []])

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
        answer = self._read(call, body)
        return self._parse(call, lambda: ArtifactPreview.from_json(answer))

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
    ) -> int:
        """Upload one artifact of a registry into a workspace; the new model version's id.

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
                body[key] = schema_to_base64(schema) if isinstance(schema, pa.Schema) else schema
        if model_name is not None:
            body["model_name"] = model_name
        if model_version is not None:
            body["model_version"] = str(model_version)
        answer = self._write(call, body)
        return self._parse(call, lambda: int(answer["model_id"]))

    # ---- uploaded models -------------------------------------------------------------------

    def list_models(self, workspace_id: int | None = None) -> list[UploadedModel]:
        """Uploaded models, one record per model version (all the caller's workspaces if None)."""
        call = "models/list"
        body = {} if workspace_id is None else {"workspace_id": int(workspace_id)}
        answer = self._read(call, body)

        def flatten() -> list[UploadedModel]:
            records = []
            for item in answer.get("models") or []:
                model = item.get("model") or {}
                workspace = item.get("workspace") or {}
                for entry in item.get("model_versions") or []:
                    records.append(UploadedModel.from_json(entry, model=model, workspace=workspace))
            return records

        return self._parse(call, flatten)

    def get_model(self, model_id: int) -> dict[str, Any]:
        """A model (one name in one workspace) and its versions, as the API sends it."""
        call = "models/get"
        answer = self._read(call, {"id": int(model_id)})
        return self._parse(call, lambda: dict(answer))

    def get_model_version(self, model_version_id: int) -> UploadedModel:
        """One uploaded model version (what upload_from_registry returned the id of)."""
        call = "models/get_version"
        answer = self._read(call, {"model_version_id": int(model_version_id)})
        return self._parse(call, lambda: UploadedModel.from_json(answer))

    # ---- DataFrames ------------------------------------------------------------------------

    def workspaces_frame(self) -> pd.DataFrame:
        """The caller's workspaces as a DataFrame."""
        return frames.workspaces_frame(self.list_workspaces())

    def registries_frame(self, workspace_id: int | None = None) -> pd.DataFrame:
        """A workspace's registries as a DataFrame."""
        return frames.registries_frame(self.list_registries(workspace_id))

    def registry_models_frame(
        self,
        registry_id: str,
        filter: str | None = None,
        order_by: str | Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """All of a registry's models (every page) as a DataFrame."""
        models = self.iter_registry_models(registry_id, filter=filter, order_by=order_by)
        return frames.registered_models_frame(models)

    def model_versions_frame(self, registry_id: str, model_name: str) -> pd.DataFrame:
        """All versions of a registered model as a DataFrame."""
        return frames.model_versions_frame(self.iter_model_versions(registry_id, model_name))

    def artifacts_frame(self, registry_id: str, name: str, version: str | int) -> pd.DataFrame:
        """A model version's files as a DataFrame."""
        return frames.artifacts_frame(self.list_artifacts(registry_id, name, version))

    def models_frame(self, workspace_id: int | None = None) -> pd.DataFrame:
        """Uploaded model versions as a DataFrame."""
        return frames.uploaded_models_frame(self.list_models(workspace_id))
