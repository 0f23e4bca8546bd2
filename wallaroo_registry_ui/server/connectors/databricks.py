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
from urllib.parse import parse_qs, quote, unquote, urlsplit

import requests

from wallaroo_registry_ui.server.connectors.base import (
    ArtifactDownload,
    InvalidArtifactPath,
    Page,
    RegistryNotFound,
    UpstreamError,
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
from wallaroo_registry_ui.server.connectors.http import RegistryHttp, origin_of

MLFLOW_API = "/api/2.0/mlflow"
UC_MODELS = "/api/2.1/unity-catalog/models"
UC_FILES_ROOT = "/Models"
UC_TOKEN = "uc:"
MAX_RESULTS = 1000
MAX_EMPTY_PAGES = 25
MV_KEYS = (
    "name",
    "version",
    "description",
    "status",
    "run_id",
    "run_link",
    "source",
    "current_stage",
    "creation_timestamp",
    "last_updated_timestamp",
)
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
        _check_max_results(max_results)
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
        try:
            body = self._http.get_json(
                f"{MLFLOW_API}/registered-models/search",
                _params(
                    max_results=max_results, page_token=token, filter=filter, order_by=order_by
                ),
            )
        except RegistryNotFound:
            if token is None:
                return Page([], None)
            raise
        items = [_wmr_model(raw) for raw in body.get("registered_models") or []]
        return Page(items, body.get("next_page_token") or None)

    def _uc_models(self, max_results: int, token: str | None, matches: Callable) -> Page:
        def fetch(page_token: str | None) -> tuple[list[dict], str | None]:
            body = self._http.get_json(
                UC_MODELS, _params(max_results=max_results, page_token=page_token)
            )
            rows = [_uc_model(raw) for raw in body.get("registered_models") or []]
            return [row for row in rows if matches(row["name"])], body.get("next_page_token")

        try:
            items, next_token = self._skip_empty_pages(fetch, token)
        except RegistryNotFound:
            if token is None:
                return Page([], None)
            raise
        return Page(items, f"{UC_TOKEN}{next_token}" if next_token else None)

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
        _check_max_results(max_results)
        return self._catalog_first(
            model_name,
            lambda: self._uc_versions(model_name, max_results, page_token, extended),
            lambda: self._wmr_versions(model_name, max_results, page_token, extended),
        )

    def _wmr_versions(self, name: str, max_results: int, token: str | None, extended: bool) -> Page:
        body = self._http.get_json(
            f"{MLFLOW_API}/model-versions/search",
            _params(filter=_name_filter(name), max_results=max_results, page_token=token),
        )
        rows = [raw for raw in body.get("model_versions") or [] if raw.get("name") == name]
        next_token = body.get("next_page_token") or None
        if not rows and not token and not next_token:
            self._http.get_json(f"{MLFLOW_API}/registered-models/get", {"name": name})
        items = [_version(raw) for raw in rows]
        if extended:
            for item, raw in zip(items, rows, strict=True):
                item["aliases"] = []
                item["tags"] = _tags(raw.get("tags"))
        return Page(items, next_token)

    def _uc_versions(self, name: str, max_results: int, token: str | None, extended: bool) -> Page:
        path = f"{UC_MODELS}/{quote(name, safe='')}/versions"

        def fetch(page_token: str | None) -> tuple[list[dict], str | None]:
            body = self._http.get_json(
                path, _params(max_results=max_results, page_token=page_token)
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
        rel = self._checked(relative_path, relative_path, absolute=False)
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
            scheme = urlsplit(uri).scheme or "local"
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
        if not isinstance(path, str) or not path.strip():
            raise self._invalid(str(path), "it is empty")
        if path.startswith("dbfs:"):
            rest = path[len("dbfs:") :]
            if rest.startswith("//"):
                netloc, _, rest = rest[2:].partition("/")
                if netloc:
                    raise self._invalid(path, f"it names the workspace profile {netloc!r}")
                rest = f"/{rest}"
            dbfs_path = self._checked(path, rest)
            return _Target(dbfs_path, _dbfs_store(dbfs_path))
        if path.startswith("models:/"):
            name, _, tail = path[len("models:/") :].partition("/")
            version, _, rel = tail.partition("/")
            if not name or not _VERSION.fullmatch(version):
                raise self._invalid(path, "a models URI reads models:/<name>/<version>/<file>")
            return _Target(self._checked(path, rel, absolute=False), "", name, version)
        if urlsplit(path).scheme.lower() in ("http", "https"):
            return self._parse_url(path)
        raise self._invalid(
            path,
            "only this workspace's DBFS read and Files API URLs, and dbfs:/ and models:/ URIs "
            "are accepted",
        )

    def _parse_url(self, path: str) -> _Target:
        parts = urlsplit(path)
        if origin_of(path) != self._http.origin:
            where = origin_of(path) or "another host"
            raise self._invalid(path, f"it is on {where}, not on {self._http.origin}")
        if parts.username is not None or parts.password is not None:
            raise self._invalid(path, "it carries credentials")
        base_path = urlsplit(self.url).path.rstrip("/")
        if not parts.path.startswith(f"{base_path}/"):
            raise self._invalid(path, f"it is not under {self.url}")
        route = parts.path[len(base_path) :]
        query = parse_qs(parts.query, keep_blank_values=True)
        if route == f"{DBFS_API}/read":
            values = query.get("path", [])
            if set(query) != {"path"} or len(values) != 1:
                raise self._invalid(path, "a DBFS read URL takes exactly one 'path' parameter")
            dbfs_path = self._checked(path, values[0])
            return _Target(dbfs_path, _dbfs_store(dbfs_path))
        if route.startswith(f"{FILES_API}/files/"):
            if parts.query:
                raise self._invalid(path, "a Files API URL takes no query")
            file_path = self._checked(path, unquote(route[len(f"{FILES_API}/files") :]))
            return _Target(file_path, "files", *_uc_provenance(file_path))
        raise self._invalid(
            path, f"it is not a DBFS read URL ({DBFS_API}/read?path=...) nor a Files API URL"
        )

    def _checked(self, path: str, value: str, *, absolute: bool = True) -> str:
        """``value`` when it is a well-formed file path; traversal and oddities refused."""
        if absolute:
            if not value.startswith("/"):
                raise self._invalid(path, "its file path does not start with '/'")
            value = value[1:]
        segments = value.split("/")
        if ".." in segments:
            raise self._invalid(path, "it climbs out of its folder ('..')")
        if not value or value.endswith("/"):
            raise self._invalid(path, "it names no file")
        if any(segment in ("", ".") for segment in segments):
            raise self._invalid(path, "it has an empty or '.' segment")
        if "\\" in value or "\x00" in value:
            raise self._invalid(path, "it contains a backslash or a NUL character")
        return f"/{value}" if absolute else value

    def _invalid(self, path: str, reason: str) -> InvalidArtifactPath:
        shown = path if len(path) <= 300 else path[:299] + "…"
        return InvalidArtifactPath(
            f"path {self._http.redact(shown)!r} is not a file of Databricks registry "
            f"'{self.name}': {reason}"
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


def _check_max_results(max_results: int) -> None:
    if not 1 <= max_results <= MAX_RESULTS:
        raise ValueError(f"max_results must be between 1 and {MAX_RESULTS}, not {max_results}")


def _params(**values: object) -> dict:
    return {key: value for key, value in values.items() if value is not None}


def _name_filter(name: str) -> str:
    """An MLflow filter for versions of ``name``; its grammar has no escapes, so a name with
    both quote kinds is matched with LIKE and the caller keeps only exact names."""
    if "'" not in name:
        return f"name = '{name}'"
    if '"' not in name:
        return f'name = "{name}"'
    return "name LIKE '{}'".format(name.replace("'", "_"))


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


def _wmr_model(raw: dict) -> dict:
    latest = raw.get("latest_versions")
    return {
        "name": raw.get("name", ""),
        "user_id": raw.get("user_id") or "",
        "creation_timestamp": raw.get("creation_timestamp"),
        "last_updated_timestamp": raw.get("last_updated_timestamp"),
        "latest_versions": [_version(v) for v in latest] if latest else None,
        "description": raw.get("description") or "",
        "tags": _tags(raw.get("tags")),
        "aliases": [],
    }


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


def _version(raw: dict) -> dict:
    """The contract's MV: exactly its ten keys, "" where Databricks left one out."""
    item = {key: "" if raw.get(key) is None else raw[key] for key in MV_KEYS}
    item["version"] = str(item["version"])
    return item


def _uc_version(name: str, raw: dict) -> dict:
    """A UC version as the contract's MV: no stages in UC, so ``current_stage`` is "None"."""
    return _version(
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


def _tags(raw: list | None) -> list[dict]:
    return [{"key": tag.get("key", ""), "value": tag.get("value", "")} for tag in raw or []]
