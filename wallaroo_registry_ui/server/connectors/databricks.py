"""DatabricksConnector: an Azure (or AWS, GCP) Databricks workspace, through its REST API.

One registry shows both of the workspace's model registries:

- Workspace Model Registry (WMR): MLflow's ``/api/2.0/mlflow`` search calls, stages as they
  are, and a version's ``aliases`` when its answer carries them (WMR cannot set any today).
  Its page tokens are passed through untouched.
- Models in Unity Catalog (UC): ``/api/2.1/unity-catalog/models``, three-level names
  (``catalog.schema.model``), aliases and no stages (``current_stage`` is "None"). UC may
  answer a page with no models and a next token; such pages are followed here (a bounded
  number of them), so a caller never gets an empty page while more models follow.

A model listing runs through WMR first, then UC; tokens of the UC part carry the prefix
``uc:``. A three-level name is looked up in UC first and in WMR when UC does not know it.
File bytes are never held whole: DBFS reads are 1 MB each, Files API downloads stream.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

import requests

from wallaroo_registry_ui.contract import (
    ArtifactJson,
    ExtendedModelVersionJson,
    ModelAliasJson,
    ModelVersionJson,
    RegisteredModelJson,
)
from wallaroo_registry_ui.server.connectors.artifact_paths import (
    VERSION_NUMBER,
    ArtifactPathChecks,
    version_file_uri,
)
from wallaroo_registry_ui.server.connectors.base import (
    ArtifactDownload,
    Page,
    Provenance,
    RegistryNotFound,
    UpstreamError,
    check_max_results,
    extended_version,
    model_version,
    provenance_of,
)
from wallaroo_registry_ui.server.connectors.databricks_files import (
    DBFS_API,
    FILES_API,
    CatalogFiles,
    DbfsFiles,
    FileStore,
    TrackingFiles,
    tracking_parts,
    walk,
)
from wallaroo_registry_ui.server.connectors.filters import name_test
from wallaroo_registry_ui.server.connectors.http import RegistryHttp, query_params, storage_kind
from wallaroo_registry_ui.server.connectors.mlflow_rest import (
    MLFLOW_API,
    search_models,
    search_versions,
    tags,
    version_aliases,
)

UC_MODELS = "/api/2.1/unity-catalog/models"
UC_FILES_ROOT = "/Models"
UC_TOKEN = "uc:"
MAX_EMPTY_PAGES = 25
TOKEN_HINT = (
    "generate a new personal access token in the Databricks workspace (User Settings > "
    "Access tokens > Generate new token) and connect the registry again with it"
)
NO_TOKEN_HINT = (
    "this registry was connected without a token; Databricks needs a personal access token "
    "(User Settings > Access tokens > Generate new token)"
)
_UC_NAME = re.compile(r"[^./\s]+\.[^./\s]+\.[^./\s]+")

T = TypeVar("T")


@dataclass(frozen=True)
class _Target:
    """A file an ``open_download`` path names: a store and an absolute path in it, or (for
    ``models:/`` URIs) a version and the path under its root."""

    path: str
    store: str = ""
    model_name: str | None = None
    model_version: str | None = None


class DatabricksConnector:
    """The ``RegistryConnector`` of a Databricks workspace, authenticated with a PAT.

    ``max_retry_seconds`` bounds the retrying of one call and ``total_retry_seconds`` the
    waiting summed over one connector (one request to the service); 429 and 503 wait as
    long as Retry-After says (1 s without one), other 4xx are not retried.
    """

    kind = "databricks"
    host_suffixes = (".azuredatabricks.net", ".cloud.databricks.com", ".gcp.databricks.com")

    def __init__(
        self,
        name: str,
        url: str,
        token: str = "",
        *,
        timeout: float = 30.0,
        max_retry_seconds: float = 30.0,
        total_retry_seconds: float = 60.0,
        http: RegistryHttp | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.name = name
        self._http = http or RegistryHttp(
            name,
            url,
            token,
            timeout=timeout,
            max_retry_seconds=max_retry_seconds,
            total_retry_seconds=total_retry_seconds,
            rejected_token_hint=TOKEN_HINT if token else NO_TOKEN_HINT,
            session=session,
        )
        self.url = self._http.base_url
        self._paths = ArtifactPathChecks(self._http, "Databricks", name)
        self._stores: dict[str, FileStore] = {
            "dbfs": DbfsFiles(self._http),
            "tracking": TrackingFiles(self._http),
            "files": CatalogFiles(self._http),
        }

    @staticmethod
    def url_problem(url: str) -> str | None:
        """The workspace URL it is given is the root of every API it calls: no path."""
        if urlsplit(url).path.strip("/"):
            return (
                "must be the Databricks workspace URL without a path, "
                "e.g. https://adb-<id>.<n>.azuredatabricks.net"
            )
        return None

    # ---- models ------------------------------------------------------------------------

    def list_models(
        self,
        *,
        max_results: int,
        page_token: str | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
    ) -> Page[RegisteredModelJson]:
        """One page: WMR models (filter and order passed through), then UC models.

        UC's list has neither filter nor order: name clauses of ``filter`` (``=``, ``!=``,
        ``LIKE``, ``ILIKE``) are applied here to full names (``filters.name_test``); a filter
        with other clauses (``tags.…``), or outside MLflow's grammar, leaves UC models out, and
        UC models come in the order UC sends them.
        """
        check_max_results(max_results)
        matches = name_test(filter)
        if not (page_token or "").startswith(UC_TOKEN):
            page = self._wmr_models(max_results, page_token, filter, order_by)
            if page.next_page_token:
                return page
            if page.items or matches is None:
                return Page(page.items, UC_TOKEN if matches is not None else None)
            page_token = UC_TOKEN
        if matches is None:
            return Page([], None)
        return self._uc_models(max_results, page_token[len(UC_TOKEN) :] or None, matches)

    def _wmr_models(
        self, max_results: int, token: str | None, filter: str | None, order_by: list[str] | None
    ) -> Page[RegisteredModelJson]:
        return _unless_registry_missing(
            lambda: search_models(
                self._http,
                max_results=max_results,
                page_token=token,
                filter=filter,
                order_by=order_by,
            ),
            token,
        )

    def _uc_models(
        self, max_results: int, token: str | None, matches: Callable[[str], bool]
    ) -> Page[RegisteredModelJson]:
        def fetch(page_token: str | None) -> tuple[list[RegisteredModelJson], str | None]:
            body = self._http.get_json(
                UC_MODELS, query_params(max_results=max_results, page_token=page_token)
            )
            rows = [_uc_model(raw) for raw in body.get("registered_models") or []]
            return [row for row in rows if matches(row["name"])], body.get("next_page_token")

        def first_page() -> Page[RegisteredModelJson]:
            items, next_token = self._skip_empty_pages(fetch, token)
            return Page(items, f"{UC_TOKEN}{next_token}" if next_token else None)

        return _unless_registry_missing(first_page, token)

    # ---- versions ----------------------------------------------------------------------

    def list_versions(
        self,
        model_name: str,
        *,
        max_results: int,
        page_token: str | None = None,
        extended: bool = False,
    ) -> Page[ExtendedModelVersionJson]:
        """One page of a model's versions; UC versions have aliases, WMR versions stages."""
        check_max_results(max_results)
        return self._catalog_first(
            model_name,
            lambda: self._uc_versions(model_name, max_results, page_token, extended),
            lambda: self._wmr_versions(model_name, max_results, page_token, extended),
        )

    def _wmr_versions(
        self, name: str, max_results: int, token: str | None, extended: bool
    ) -> Page[ExtendedModelVersionJson]:
        rows, next_token = search_versions(
            self._http, name, max_results=max_results, page_token=token
        )
        items: list[ModelVersionJson] = [model_version(raw) for raw in rows]
        if not extended:
            return Page(items, next_token)
        extended_items = [
            extended_version(item, version_aliases(raw.get("aliases")), tags(raw.get("tags")))
            for item, raw in zip(items, rows, strict=True)
        ]
        return Page(extended_items, next_token)

    def _uc_versions(
        self, name: str, max_results: int, token: str | None, extended: bool
    ) -> Page[ExtendedModelVersionJson]:
        path = f"{UC_MODELS}/{quote(name, safe='')}/versions"

        def fetch(page_token: str | None) -> tuple[list[dict], str | None]:
            body = self._http.get_json(
                path, query_params(max_results=max_results, page_token=page_token)
            )
            return list(body.get("model_versions") or []), body.get("next_page_token")

        rows, next_token = self._skip_empty_pages(fetch, token)
        items = [_uc_version(name, raw) for raw in rows]
        if not extended:
            return Page(items, next_token or None)
        aliases = self._uc_aliases(name)
        extended_items = [
            extended_version(item, aliases.get(item["version"], []), []) for item in items
        ]
        return Page(extended_items, next_token or None)

    def _uc_aliases(self, name: str) -> dict[str, list[str]]:
        body = self._http.get_json(
            f"{UC_MODELS}/{quote(name, safe='')}", {"include_aliases": "true"}
        )
        aliases: dict[str, list[str]] = {}
        for entry in body.get("aliases") or []:
            aliases.setdefault(str(entry.get("version_num", "")), []).append(
                str(entry.get("alias_name", ""))
            )
        return aliases

    def _skip_empty_pages(
        self, fetch: Callable[[str | None], tuple[list[T], str | None]], token: str | None
    ) -> tuple[list[T], str | None]:
        """The first page with rows, or the last page; UC may send empty pages with a token.

        After ``MAX_EMPTY_PAGES`` empty pages the empty page is returned with its token, so
        the caller may go on; a token UC repeats ends the listing with an error.
        """
        seen: set[str] = set()
        for _ in range(MAX_EMPTY_PAGES):
            rows, token = fetch(token)
            token = token or None
            if rows or token is None:
                return rows, token
            if token in seen:
                raise UpstreamError(self.name, "Unity Catalog sent the same page token again")
            seen.add(token)
        return [], token

    # ---- artifacts ---------------------------------------------------------------------

    def list_artifacts(self, model_name: str, version: str) -> list[ArtifactJson]:
        """Every file and folder of a version, recursively, sorted by relative path."""

        def listing(store_name: str, root: str) -> list[ArtifactJson]:
            store = self._stores[store_name]
            return [
                ArtifactJson(
                    file_size=0 if entry.is_dir else entry.size,
                    full_path=store.full_path(entry.path),
                    is_dir=entry.is_dir,
                    modification_time=entry.modification_time,
                    path=entry.path,
                    relative_path=rel,
                )
                for rel, entry in walk(store, root, self.name)
            ]

        return self._catalog_first(
            model_name,
            lambda: listing("files", self._uc_root(model_name, version)),
            lambda: listing(*self._wmr_root(model_name, version)),
        )

    def check_path(self, path: str) -> Provenance:
        """What ``path`` names; InvalidArtifactPath when it is not this workspace's."""
        target = self._parse(path)
        return provenance_of(target.model_name, target.model_version, target.path)

    def open_version_file(
        self, model_name: str, version: str, relative_path: str, *, offset: int = 0
    ) -> ArtifactDownload:
        """Stream one file of a version, named by its path under the version's root, from
        ``offset`` on (DBFS reads start there; the Files API and signed URLs take a Range)."""
        rel = self._paths.relative_file(relative_path, relative_path)
        provenance = {"model_name": model_name, "model_version": version, "path": rel}

        def from_root(store_name: str, root: str) -> ArtifactDownload:
            return self._stores[store_name].open(f"{root}/{rel}", provenance, offset)

        return self._catalog_first(
            model_name,
            lambda: from_root("files", self._uc_root(model_name, version)),
            lambda: from_root(*self._wmr_root(model_name, version)),
        )

    def open_download(self, path: str, *, offset: int = 0) -> ArtifactDownload:
        """Stream one file from ``offset`` on; ``path`` is checked before any request."""
        target = self._parse(path)
        if not target.store:
            return self.open_version_file(
                str(target.model_name), str(target.model_version), target.path, offset=offset
            )
        provenance = {
            "model_name": target.model_name,
            "model_version": target.model_version,
            "path": target.path,
        }
        return self._stores[target.store].open(target.path, provenance, offset)

    def close(self) -> None:
        self._http.close()

    def _uc_root(self, name: str, version: str) -> str:
        if not VERSION_NUMBER.fullmatch(version):
            raise RegistryNotFound(
                self.name, f"Unity Catalog versions are numbers, not {version!r}", 404
            )
        return "/".join([UC_FILES_ROOT, *name.split("."), version])

    def _wmr_root(self, name: str, version: str) -> tuple[str, str]:
        """(store, folder) of a WMR version, from its download URI."""
        body = self._http.get_json(
            f"{MLFLOW_API}/model-versions/get-download-uri", {"name": name, "version": version}
        )
        uri = str(body.get("artifact_uri") or "")
        if not uri.startswith("dbfs:/") or uri.startswith("dbfs://"):
            raise UpstreamError(
                self.name,
                f"the files of version {version} of '{name}' live at a '{storage_kind(uri)}' "
                "location this connector does not read",
            )
        folder = "/" + uri[len("dbfs:/") :].strip("/")
        return _dbfs_store(folder), folder

    def _catalog_first(self, name: str, catalog: Callable[[], T], workspace: Callable[[], T]) -> T:
        """UC for three-level names (WMR if UC does not know the name), else WMR."""
        if not _UC_NAME.fullmatch(name):
            return workspace()
        try:
            return catalog()
        except RegistryNotFound as missing:
            try:
                return workspace()
            except RegistryNotFound:
                raise missing from None

    # ---- paths given to open_download --------------------------------------------------

    def _parse(self, path: str) -> _Target:
        """What ``path`` names, or InvalidArtifactPath; makes no request."""
        path = self._paths.given(path)
        if path.startswith("dbfs:"):
            rest = path[len("dbfs:") :]
            if rest.startswith("//"):
                netloc, _, rest = rest[2:].partition("/")
                if netloc:
                    raise self._paths.invalid(path, f"it names the workspace profile {netloc!r}")
                rest = f"/{rest}"
            dbfs_path = self._paths.absolute_file(path, rest)
            return _Target(dbfs_path, _dbfs_store(dbfs_path))
        if path.startswith("models:/"):
            named = version_file_uri(path)
            if named is None:
                raise self._paths.invalid(
                    path, "a models URI reads models:/<name>/<version>/<file>"
                )
            rel = self._paths.relative_file(path, named.file)
            return _Target(rel, "", named.model_name, named.version)
        if self._paths.is_web_url(path):
            return self._parse_url(path)
        raise self._paths.invalid(
            path,
            "only this workspace's DBFS read and Files API URLs, and dbfs:/ and models:/ URIs "
            "are accepted",
        )

    def _parse_url(self, path: str) -> _Target:
        route, raw_query = self._paths.route(path)
        query = parse_qs(raw_query, keep_blank_values=True)
        if route == f"{DBFS_API}/read":
            values = query.get("path", [])
            if set(query) != {"path"} or len(values) != 1:
                raise self._paths.invalid(
                    path, "a DBFS read URL takes exactly one 'path' parameter"
                )
            dbfs_path = self._paths.absolute_file(path, values[0])
            return _Target(dbfs_path, _dbfs_store(dbfs_path))
        if route.startswith(f"{FILES_API}/files/"):
            if raw_query:
                raise self._paths.invalid(path, "a Files API URL takes no query")
            file_path = self._paths.absolute_file(path, unquote(route[len(f"{FILES_API}/files") :]))
            return _Target(file_path, "files", *_uc_provenance(file_path))
        raise self._paths.invalid(
            path, f"it is not a DBFS read URL ({DBFS_API}/read?path=...) nor a Files API URL"
        )


def _dbfs_store(path: str) -> str:
    """MLflow-managed run folders are access-controlled and not read through DBFS."""
    return "tracking" if tracking_parts(path) is not None else "dbfs"


def _uc_provenance(path: str) -> tuple[str | None, str | None]:
    """(model name, version) of ``/Models/<catalog>/<schema>/<model>/<version>/...``."""
    parts = path.split("/")
    if len(parts) > 6 and f"/{parts[1]}" == UC_FILES_ROOT and VERSION_NUMBER.fullmatch(parts[5]):
        return ".".join(parts[2:5]), parts[5]
    return None, None


def _uc_model(raw: dict) -> RegisteredModelJson:
    """A UC model as the contract's RM: UC lists no latest versions and no tags."""
    parts = [raw.get("catalog_name"), raw.get("schema_name"), raw.get("name")]
    return RegisteredModelJson(
        name=raw.get("full_name") or ".".join(str(p or "") for p in parts),
        user_id=raw.get("created_by") or raw.get("owner") or "",
        creation_timestamp=raw.get("created_at"),
        last_updated_timestamp=raw.get("updated_at"),
        latest_versions=None,
        description=raw.get("comment") or "",
        tags=[],
        aliases=[
            ModelAliasJson(
                alias=str(entry.get("alias_name", "")), version=str(entry.get("version_num", ""))
            )
            for entry in raw.get("aliases") or []
        ],
    )


def _uc_version(name: str, raw: dict) -> ModelVersionJson:
    """A UC version as the contract's MV: no stages in UC, so ``current_stage`` is "None"."""
    return model_version(
        {
            "name": name,
            "version": raw.get("version"),
            "description": raw.get("comment"),
            "status": raw.get("status"),
            "run_id": raw.get("run_id"),
            "run_link": "",
            "source": raw.get("source"),
            "current_stage": "None",
            "creation_timestamp": raw.get("created_at"),
            "last_updated_timestamp": raw.get("updated_at"),
        }
    )


def _unless_registry_missing(
    first_page: Callable[[], Page[RegisteredModelJson]], token: str | None
) -> Page[RegisteredModelJson]:
    """``first_page()``, or no models when the workspace has no such registry (WMR or UC):
    a 404 to the first request of a listing says so; past it, a 404 is an error."""
    try:
        return first_page()
    except RegistryNotFound:
        if token is None:
            return Page([], None)
        raise
