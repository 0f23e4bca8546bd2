"""DatabricksConnector: an Azure (or AWS, GCP) Databricks workspace, through its REST API.

One registry shows both of the workspace's model registries:

- Workspace Model Registry (WMR): MLflow's ``/api/2.0/mlflow`` search calls, stages as they
  are, no aliases. Its page tokens are passed through untouched.
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
from urllib.parse import parse_qs, quote, unquote

import requests

from wallaroo_registry_ui.server.connectors.artifact_paths import ArtifactPathChecks
from wallaroo_registry_ui.server.connectors.base import (
    ArtifactDownload,
    Page,
    RegistryNotFound,
    UpstreamError,
    check_max_results,
    model_version,
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
from wallaroo_registry_ui.server.connectors.http import RegistryHttp, query_params, scheme_of
from wallaroo_registry_ui.server.connectors.mlflow_rest import (
    MLFLOW_API,
    search_models,
    search_versions,
    tags,
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
_VERSION = re.compile(r"[0-9]+")
_NAME_CLAUSE = re.compile(
    r"""\s*name\s*(=|!=|<>|like|ilike)\s*(?:'([^']*)'|"([^"]*)")\s*""", re.IGNORECASE
)

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

    # ---- models ------------------------------------------------------------------------

    def list_models(
        self,
        *,
        max_results: int,
        page_token: str | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
    ) -> Page:
        """One page: WMR models (filter and order passed through), then UC models.

        UC's list has neither filter nor order: name clauses of ``filter`` (``=``, ``!=``,
        ``LIKE``, ``ILIKE``) are applied here to full names; a filter with other clauses
        (``tags.…``) leaves UC models out, and UC models come in the order UC sends them.
        """
        check_max_results(max_results)
        matches = _name_matcher(filter)
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
    ) -> Page:
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

    def _uc_models(self, max_results: int, token: str | None, matches: Callable) -> Page:
        def fetch(page_token: str | None) -> tuple[list[dict], str | None]:
            body = self._http.get_json(
                UC_MODELS, query_params(max_results=max_results, page_token=page_token)
            )
            rows = [_uc_model(raw) for raw in body.get("registered_models") or []]
            return [row for row in rows if matches(row["name"])], body.get("next_page_token")

        def first_page() -> Page:
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
    ) -> Page:
        """One page of a model's versions; UC versions have aliases, WMR versions stages."""
        check_max_results(max_results)
        return self._catalog_first(
            model_name,
            lambda: self._uc_versions(model_name, max_results, page_token, extended),
            lambda: self._wmr_versions(model_name, max_results, page_token, extended),
        )

    def _wmr_versions(self, name: str, max_results: int, token: str | None, extended: bool) -> Page:
        rows, next_token = search_versions(
            self._http, name, max_results=max_results, page_token=token
        )
        items = [model_version(raw) for raw in rows]
        if extended:
            for item, raw in zip(items, rows, strict=True):
                item["aliases"] = []
                item["tags"] = tags(raw.get("tags"))
        return Page(items, next_token)

    def _uc_versions(self, name: str, max_results: int, token: str | None, extended: bool) -> Page:
        path = f"{UC_MODELS}/{quote(name, safe='')}/versions"

        def fetch(page_token: str | None) -> tuple[list[dict], str | None]:
            body = self._http.get_json(
                path, query_params(max_results=max_results, page_token=page_token)
            )
            return list(body.get("model_versions") or []), body.get("next_page_token")

        rows, next_token = self._skip_empty_pages(fetch, token)
        items = [_uc_version(name, raw) for raw in rows]
        if extended:
            aliases = self._uc_aliases(name)
            for item in items:
                item["aliases"] = aliases.get(item["version"], [])
                item["tags"] = []
        return Page(items, next_token or None)

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
        self, fetch: Callable[[str | None], tuple[list[dict], str | None]], token: str | None
    ) -> tuple[list[dict], str | None]:
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

    def list_artifacts(self, model_name: str, version: str) -> list[dict]:
        """Every file and folder of a version, recursively, sorted by relative path."""

        def listing(store_name: str, root: str) -> list[dict]:
            store = self._stores[store_name]
            return [
                {
                    "file_size": 0 if entry.is_dir else entry.size,
                    "full_path": store.full_path(entry.path),
                    "is_dir": entry.is_dir,
                    "modification_time": entry.modification_time,
                    "path": entry.path,
                    "relative_path": rel,
                }
                for rel, entry in walk(store, root, self.name)
            ]

        return self._catalog_first(
            model_name,
            lambda: listing("files", self._uc_root(model_name, version)),
            lambda: listing(*self._wmr_root(model_name, version)),
        )

    def open_version_file(
        self, model_name: str, version: str, relative_path: str
    ) -> ArtifactDownload:
        """Stream one file of a version, named by its path under the version's root."""
        rel = self._paths.relative_file(relative_path, relative_path)
        provenance = {"model_name": model_name, "model_version": version, "path": rel}

        def from_root(store_name: str, root: str) -> ArtifactDownload:
            return self._stores[store_name].open(f"{root}/{rel}", provenance)

        return self._catalog_first(
            model_name,
            lambda: from_root("files", self._uc_root(model_name, version)),
            lambda: from_root(*self._wmr_root(model_name, version)),
        )

    def open_download(self, path: str) -> ArtifactDownload:
        """Stream one file; ``path`` is checked before any request is made."""
        target = self._parse(path)
        if not target.store:
            return self.open_version_file(
                str(target.model_name), str(target.model_version), target.path
            )
        provenance = {
            "model_name": target.model_name,
            "model_version": target.model_version,
            "path": target.path,
        }
        return self._stores[target.store].open(target.path, provenance)

    def close(self) -> None:
        self._http.close()

    def _uc_root(self, name: str, version: str) -> str:
        if not _VERSION.fullmatch(version):
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
            scheme = scheme_of(uri) or "local"
            raise UpstreamError(
                self.name,
                f"the files of version {version} of '{name}' live at a '{scheme}' location "
                "this connector does not read",
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
            name, _, tail = path[len("models:/") :].partition("/")
            version, _, rel = tail.partition("/")
            if not name or not _VERSION.fullmatch(version):
                raise self._paths.invalid(
                    path, "a models URI reads models:/<name>/<version>/<file>"
                )
            return _Target(self._paths.relative_file(path, rel), "", name, version)
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
    if len(parts) > 6 and f"/{parts[1]}" == UC_FILES_ROOT and _VERSION.fullmatch(parts[5]):
        return ".".join(parts[2:5]), parts[5]
    return None, None


def _name_matcher(filter: str | None) -> Callable[[str], bool] | None:
    """A test of full names made of a filter's name clauses; None if it has other clauses."""
    if not filter or not filter.strip():
        return lambda _name: True
    tests = []
    for clause in re.split(r"\s+and\s+", filter.strip(), flags=re.IGNORECASE):
        match = _NAME_CLAUSE.fullmatch(clause)
        if match is None:
            return None
        value = match.group(2) if match.group(2) is not None else match.group(3)
        tests.append(_name_test(match.group(1).lower(), value))
    return lambda name: all(test(name) for test in tests)


def _name_test(operator: str, value: str) -> Callable[[str], bool]:
    if operator == "=":
        return lambda name: name == value
    if operator in ("!=", "<>"):
        return lambda name: name != value
    pattern = "".join(
        ".*" if char == "%" else "." if char == "_" else re.escape(char) for char in value
    )
    flags = re.IGNORECASE | re.DOTALL if operator == "ilike" else re.DOTALL
    compiled = re.compile(pattern, flags)
    return lambda name: compiled.fullmatch(name) is not None


def _uc_model(raw: dict) -> dict:
    parts = [raw.get("catalog_name"), raw.get("schema_name"), raw.get("name")]
    return {
        "name": raw.get("full_name") or ".".join(str(p or "") for p in parts),
        "user_id": raw.get("created_by") or raw.get("owner") or "",
        "creation_timestamp": raw.get("created_at"),
        "last_updated_timestamp": raw.get("updated_at"),
        "latest_versions": None,
        "description": raw.get("comment") or "",
        "tags": [],
        "aliases": [
            {"alias": str(a.get("alias_name", "")), "version": str(a.get("version_num", ""))}
            for a in raw.get("aliases") or []
        ],
    }


def _uc_version(name: str, raw: dict) -> dict:
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


def _unless_registry_missing(first_page: Callable[[], Page], token: str | None) -> Page:
    """``first_page()``, or no models when the workspace has no such registry (WMR or UC):
    a 404 to the first request of a listing says so; past it, a 404 is an error."""
    try:
        return first_page()
    except RegistryNotFound:
        if token is None:
            return Page([], None)
        raise
