"""MlflowConnector: an MLflow 3 tracking/registry server, spoken to through its REST API.

Models, versions and artifact listings come from ``/api/2.0/mlflow/...``; file bytes come
from the artifact proxy when the server runs with ``--serve-artifacts`` (it streams a 1 GiB
file about ten times faster than ``/model-versions/get-artifact``), else from the server's
own download routes.
"""

from __future__ import annotations

import posixpath
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import requests

from wallaroo_registry_ui.contract import (
    ArtifactJson,
    ExtendedModelVersionJson,
    ModelVersionJson,
    RegisteredModelJson,
)
from wallaroo_registry_ui.server.connectors.artifact_paths import (
    RUN_ID,
    VERSION_NUMBER,
    ArtifactPathChecks,
    logged_model_uri,
    run_uri,
    version_file_uri,
)
from wallaroo_registry_ui.server.connectors.base import (
    ArtifactDownload,
    ConnectorError,
    Page,
    Provenance,
    UpstreamError,
    check_max_results,
    extended_version,
    model_version,
    provenance_of,
)
from wallaroo_registry_ui.server.connectors.byte_ranges import open_body
from wallaroo_registry_ui.server.connectors.http import RegistryHttp, query_params, storage_kind
from wallaroo_registry_ui.server.connectors.mlflow_rest import (
    MLFLOW_API,
    search_models,
    search_versions,
    tags,
)

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
VERSION_ARTIFACT = "/model-versions/get-artifact"
RUN_ARTIFACT = "/get-artifact"
LOGGED_MODEL_FILE = "/ajax-api/2.0/mlflow/logged-models/{}/artifacts/files"
CHUNK_SIZE = 1 << 20
MAX_DEPTH = 32
MAX_ENTRIES = 50_000
_PROXY_SCHEME = "mlflow-artifacts:"


@dataclass(frozen=True)
class _Root:
    """A folder of artifacts and the route by which this server reaches it.

    ``kind`` is ``proxy`` (``ref``: path under ``mlflow-artifacts:/``), ``logged_model``
    (``ref``: the model id), ``run`` (``ref``: run id, ``sub``: folder inside the run) or
    ``version`` (``ref``: model name, ``sub``: version; reachable for downloads only).
    """

    kind: str
    ref: str
    sub: str = ""


@dataclass(frozen=True)
class _Target:
    """A file named by an ``open_download`` path: a root (or a version) and the path under it."""

    rel: str
    root: _Root | None = None
    model_name: str | None = None
    model_version: str | None = None


class MlflowConnector:
    """The ``RegistryConnector`` of an MLflow server (OSS MLflow 3 REST API), the kind a
    registry is taken to be when its host is of no other kind."""

    kind = "mlflow"
    host_suffixes: tuple[str, ...] = ()

    def __init__(
        self,
        name: str,
        url: str,
        token: str = "",
        *,
        timeout: float = 30.0,
        http: RegistryHttp | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.name = name
        self._http = http or RegistryHttp(name, url, token, timeout=timeout, session=session)
        self.url = self._http.base_url
        self._paths = ArtifactPathChecks(self._http, "MLflow", name)

    @staticmethod
    def url_problem(url: str) -> str | None:
        """Any http(s) root URL may be an MLflow server, under a path prefix too."""
        return None

    def list_models(
        self,
        *,
        max_results: int,
        page_token: str | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
    ) -> Page[RegisteredModelJson]:
        """One page of registered models, MLflow's filter and order passed through."""
        check_max_results(max_results)
        return search_models(
            self._http,
            max_results=max_results,
            page_token=page_token,
            filter=filter,
            order_by=order_by,
        )

    def list_versions(
        self,
        model_name: str,
        *,
        max_results: int,
        page_token: str | None = None,
        extended: bool = False,
    ) -> Page[ExtendedModelVersionJson]:
        """One page of a model's versions, newest first.

        MLflow's filter grammar cannot quote every name, so a page may be shorter than
        ``max_results`` while more pages follow (see ``search_versions``).
        """
        check_max_results(max_results)
        model = self._registered_model(model_name) if extended else None
        rows, next_token = search_versions(
            self._http,
            model_name,
            max_results=max_results,
            page_token=page_token,
            order_by=["version_number DESC"],
            model_exists=model is not None,
        )
        items: list[ModelVersionJson] = [model_version(raw) for raw in rows]
        if model is None:
            return Page(items, next_token)
        aliases: dict[str, list[str]] = {}
        for entry in model.get("aliases") or []:
            aliases.setdefault(str(entry.get("version", "")), []).append(entry.get("alias", ""))
        extended_items = [
            extended_version(item, aliases.get(item["version"], []), tags(raw.get("tags")))
            for item, raw in zip(items, rows, strict=True)
        ]
        return Page(extended_items, next_token)

    def list_artifacts(self, model_name: str, version: str) -> list[ArtifactJson]:
        """Every file and folder of a version, recursively, sorted by relative path."""
        record = self._http.get_json(
            f"{MLFLOW_API}/model-versions/get", {"name": model_name, "version": version}
        )["model_version"]
        root = self._listing_root(record)
        return [
            ArtifactJson(
                file_size=0 if is_dir else size,
                full_path=self._full_path(root, model_name, version, rel),
                is_dir=is_dir,
                modification_time=None,
                path=f"/{rel}",
                relative_path=rel,
            )
            for rel, is_dir, size in self._walk(root)
        ]

    def check_path(self, path: str) -> Provenance:
        """What ``path`` names; InvalidArtifactPath when it is not this registry's."""
        target = self._parse(path)
        return provenance_of(target.model_name, target.model_version, target.rel)

    def open_download(self, path: str, *, offset: int = 0) -> ArtifactDownload:
        """Stream one file from ``offset`` on; ``path`` is checked before any request."""
        return self._open(self._parse(path), offset)

    def open_version_file(
        self, model_name: str, version: str, relative_path: str, *, offset: int = 0
    ) -> ArtifactDownload:
        """Stream one file of a version, named by its path under the version's root."""
        rel = self._paths.relative_file(relative_path, relative_path)
        if not VERSION_NUMBER.fullmatch(version):
            raise self._paths.invalid(relative_path, "the version is not a number")
        return self._open(_Target(rel, None, model_name, version), offset)

    def _open(self, target: _Target, offset: int) -> ArtifactDownload:
        """MLflow 3 answers ranges on every download route (Flask's conditional responses);
        a server that does not is read whole (``ArtifactDownload.offset`` 0)."""
        root = target.root or self._version_download_root(target.model_name, target.model_version)
        root = self._fastest(root)
        route, params = _file_request(root, target.rel)
        opened = open_body(self._http, route, params, offset=offset)
        response = opened.response
        try:
            size = self._listed_size(root, target.rel)
            return ArtifactDownload(
                file_name=posixpath.basename(target.rel),
                chunks=opened.chunks(self._http, CHUNK_SIZE),
                size=opened.total if size is None else size,
                provenance={
                    "model_name": target.model_name,
                    "model_version": target.model_version,
                    "path": target.rel,
                },
                closer=response,
                offset=opened.offset,
            )
        except BaseException:
            response.close()
            raise

    def close(self) -> None:
        self._http.close()

    def _registered_model(self, model_name: str) -> dict:
        body = self._http.get_json(f"{MLFLOW_API}/registered-models/get", {"name": model_name})
        return body["registered_model"]

    def _download_uri(self, model_name: str, version: str) -> str:
        body = self._http.get_json(
            f"{MLFLOW_API}/model-versions/get-download-uri",
            {"name": model_name, "version": version},
        )
        return body.get("artifact_uri", "")

    def _listing_root(self, model_version: dict) -> _Root:
        """Where a version's files are listed: its logged model, the proxy, or its run."""
        name, version = model_version["name"], str(model_version["version"])
        source = model_version.get("source") or ""
        logged = logged_model_uri(source)
        if logged is not None and not logged.file:
            return _Root("logged_model", logged.model_id)
        uri = self._download_uri(name, version)
        if uri.startswith(_PROXY_SCHEME):
            return _Root("proxy", _proxy_ref(uri))
        run = _runs_uri(uri) or _runs_uri(source)
        if run:
            return _Root("run", *run)
        run_id = model_version.get("run_id") or ""
        if run_id:
            run_root = self._run_root_uri(run_id).rstrip("/")
            if run_root and uri.startswith(f"{run_root}/"):
                return _Root("run", run_id, uri[len(run_root) + 1 :].strip("/"))
        raise UpstreamError(
            self.name,
            f"the files of version {version} of '{name}' live at a "
            f"'{storage_kind(uri)}' location this server does not list",
        )

    def _version_download_root(self, model_name: str | None, version: str | None) -> _Root:
        uri = self._download_uri(str(model_name), str(version))
        if uri.startswith(_PROXY_SCHEME):
            return _Root("proxy", _proxy_ref(uri))
        run = _runs_uri(uri)
        if run:
            return _Root("run", *run)
        return _Root("version", str(model_name), str(version))

    def _fastest(self, root: _Root) -> _Root:
        """The proxy route to ``root`` when the server stores it behind its artifact proxy."""
        if root.kind == "logged_model":
            body = self._http.get_json(f"{MLFLOW_API}/logged-models/{quote(root.ref, safe='')}")
            uri = body.get("model", {}).get("info", {}).get("artifact_uri", "")
            if uri.startswith(_PROXY_SCHEME):
                return _Root("proxy", _proxy_ref(uri))
        if root.kind == "run":
            uri = self._run_root_uri(root.ref)
            if uri.startswith(_PROXY_SCHEME):
                return _Root("proxy", _join(_proxy_ref(uri), root.sub))
        return root

    def _run_root_uri(self, run_id: str) -> str:
        body = self._http.get_json(f"{MLFLOW_API}/runs/get", {"run_id": run_id})
        return body.get("run", {}).get("info", {}).get("artifact_uri", "")

    def _list_dir(self, root: _Root, rel: str) -> list[tuple[str, bool, int]]:
        """Direct children of ``rel`` as (path under the root, is_dir, size).

        The proxy answers basenames; the logged-model and run listings answer paths from
        their root, which is what lets a listing that names its own folder be spotted.
        """
        if root.kind == "proxy":
            body = self._http.get_json(PROXY, {"path": _join(root.ref, rel)})
            return [_entry(_join(rel, posixpath.basename(f["path"])), f) for f in _files(body)]
        if root.kind == "logged_model":
            body = self._http.get_json(
                f"{MLFLOW_API}/logged-models/{quote(root.ref, safe='')}/artifacts/directories",
                query_params(artifact_directory_path=rel or None),
            )
            return [_entry(f["path"].strip("/"), f) for f in _files(body)]
        if root.kind == "run":
            entries = []
            page_token = None
            prefix = f"{root.sub}/" if root.sub else ""
            while True:
                body = self._http.get_json(
                    f"{MLFLOW_API}/artifacts/list",
                    query_params(
                        run_id=root.ref, path=_join(root.sub, rel) or None, page_token=page_token
                    ),
                )
                entries += [
                    _entry(f["path"][len(prefix) :], f)
                    for f in _files(body)
                    if f["path"].startswith(prefix)
                ]
                page_token = body.get("next_page_token")
                if not page_token:
                    return entries
        raise UpstreamError(self.name, "this MLflow server does not list these files")

    def _walk(self, root: _Root) -> list[tuple[str, bool, int]]:
        """Every entry under ``root``, breadth first; entries outside their folder are ignored."""
        found: dict[str, tuple[bool, int]] = {}
        todo: deque[tuple[str, int]] = deque([("", 0)])
        while todo:
            folder, depth = todo.popleft()
            for rel, is_dir, size in self._list_dir(root, folder):
                if rel in found or not _is_inside(rel, folder):
                    continue
                found[rel] = (is_dir, size)
                if len(found) > MAX_ENTRIES:
                    raise UpstreamError(self.name, f"a version has more than {MAX_ENTRIES} files")
                if is_dir:
                    if depth >= MAX_DEPTH:
                        raise UpstreamError(
                            self.name, f"a version has folders nested deeper than {MAX_DEPTH}"
                        )
                    todo.append((rel, depth + 1))
        return [(rel, *found[rel]) for rel in sorted(found)]

    def _listed_size(self, root: _Root, rel: str) -> int | None:
        """The file's size as its folder's listing reports it (one cheap request), else None."""
        if root.kind == "version":
            return None
        try:
            children = self._list_dir(root, posixpath.dirname(rel))
        except ConnectorError:
            return None
        return next((size for child, is_dir, size in children if child == rel and not is_dir), None)

    def _full_path(self, root: _Root, model_name: str, version: str, rel: str) -> str:
        """A URL on the registry's origin that serves the file's bytes.

        ``/model-versions/get-artifact`` fails (HTTP 500) for ``runs:/`` sources on a
        proxying server, so files of those versions are addressed through their run.
        """
        if root.kind == "run":
            query = {"run_uuid": root.ref, "path": _join(root.sub, rel)}
            return f"{self.url}{RUN_ARTIFACT}?{urlencode(query, quote_via=quote)}"
        query = {"name": model_name, "version": version, "path": rel}
        return f"{self.url}{VERSION_ARTIFACT}?{urlencode(query, quote_via=quote)}"

    def _parse(self, path: str) -> _Target:
        """What ``path`` names, or InvalidArtifactPath; makes no request."""
        path = self._paths.given(path)
        if path.startswith(_PROXY_SCHEME):
            return self._parse_proxy_uri(path)
        if path.startswith("models:"):
            return self._parse_models_uri(path)
        if path.startswith("runs:"):
            run = run_uri(path)
            if run is None:
                raise self._paths.invalid(path, "a runs URI reads runs:/<run_id>/<file path>")
            return _Target(self._paths.relative_file(path, run.file), _Root("run", run.run_id))
        if self._paths.is_web_url(path):
            return self._parse_url(path)
        raise self._paths.invalid(
            path,
            "only this registry's URLs and mlflow-artifacts:/, models:/ and runs:/ URIs "
            "are accepted",
        )

    def _parse_proxy_uri(self, path: str) -> _Target:
        rest = path[len(_PROXY_SCHEME) :]
        if rest.startswith("//"):
            netloc, _, rel = rest[2:].partition("/")
            if netloc and netloc.lower() != urlsplit(self.url).netloc.lower():
                raise self._paths.invalid(path, f"it names the server {netloc}, not this registry")
        elif rest.startswith("/"):
            rel = rest[1:]
        else:
            raise self._paths.invalid(
                path, "an mlflow-artifacts URI reads mlflow-artifacts:/<path>"
            )
        return _Target(self._paths.relative_file(path, rel), _Root("proxy", ""))

    def _parse_models_uri(self, path: str) -> _Target:
        logged = logged_model_uri(path)
        if logged is not None:
            root = _Root("logged_model", logged.model_id)
            return _Target(self._paths.relative_file(path, logged.file), root)
        named = version_file_uri(path)
        if named is None:
            raise self._paths.invalid(
                path,
                "a models URI reads models:/<name>/<version>/<file path> "
                "or models:/m-<id>/<file path>",
            )
        rel = self._paths.relative_file(path, named.file)
        return _Target(rel, None, named.model_name, named.version)

    def _parse_url(self, path: str) -> _Target:
        route, raw_query = self._paths.route(path)
        query = parse_qs(raw_query, keep_blank_values=True)
        if route == VERSION_ARTIFACT:
            name, version, rel = (
                self._paths.one_value(path, query, key) for key in ("name", "version", "path")
            )
            if not VERSION_NUMBER.fullmatch(version):
                raise self._paths.invalid(path, "its version is not a number")
            return _Target(self._paths.relative_file(path, rel), None, name, version)
        if route == RUN_ARTIFACT:
            key = "run_uuid" if "run_uuid" in query else "run_id"
            run_id = self._paths.one_value(path, query, key)
            rel = self._paths.one_value(path, query, "path")
            if not RUN_ID.fullmatch(run_id):
                raise self._paths.invalid(path, "its run id is malformed")
            return _Target(self._paths.relative_file(path, rel), _Root("run", run_id))
        if route.startswith(f"{PROXY}/"):
            rel = unquote(route[len(PROXY) + 1 :])
            return _Target(self._paths.relative_file(path, rel), _Root("proxy", ""))
        raise self._paths.invalid(
            path,
            f"it is not one of MLflow's download URLs ({VERSION_ARTIFACT}, {RUN_ARTIFACT}, "
            f"{PROXY}/...)",
        )


def _files(body: dict) -> list[dict]:
    return [f for f in body.get("files", []) if isinstance(f.get("path"), str) and f["path"]]


def _entry(rel: str, raw: dict) -> tuple[str, bool, int]:
    is_dir = bool(raw.get("is_dir"))
    return rel, is_dir, 0 if is_dir else int(raw.get("file_size") or 0)


def _join(*parts: str) -> str:
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


def _is_inside(rel: str, folder: str) -> bool:
    """True when ``rel`` is a well-formed path strictly below ``folder``."""
    segments = rel.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return False
    return not folder or rel.startswith(f"{folder}/")


def _proxy_ref(uri: str) -> str:
    """The path of an ``mlflow-artifacts:`` URI under the proxy (any host part dropped)."""
    rest = uri[len(_PROXY_SCHEME) :]
    if rest.startswith("//"):
        rest = rest[2:].partition("/")[2]
    return rest.strip("/")


def _runs_uri(uri: str) -> tuple[str, str] | None:
    """(run id, folder) of a ``runs:/<run_id>/<folder>`` URI, else None."""
    run = run_uri(uri)
    return (run.run_id, run.file.strip("/")) if run is not None else None


def _file_request(root: _Root, rel: str) -> tuple[str, dict | None]:
    """The route and query that serve the bytes of ``rel`` under ``root``."""
    if root.kind == "proxy":
        return f"{PROXY}/{quote(_join(root.ref, rel), safe='/')}", None
    if root.kind == "logged_model":
        return LOGGED_MODEL_FILE.format(quote(root.ref, safe="")), {"artifact_file_path": rel}
    if root.kind == "run":
        return RUN_ARTIFACT, {"run_uuid": root.ref, "path": _join(root.sub, rel)}
    return VERSION_ARTIFACT, {"name": root.ref, "version": root.sub, "path": rel}
