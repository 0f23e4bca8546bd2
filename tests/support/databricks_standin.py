"""A stand-in for an Azure Databricks workspace's REST API, served over HTTP on 127.0.0.1.

Azure Databricks cannot be reached from here, so the Databricks tests talk to this server
instead. It implements only the protocol, limits and quirks that Databricks documents and
that the connector relies on, as gathered in ../shared/reference/mlflow-databricks.md
(section 2, "Databricks specifics", and section 1 for the MLflow wire format WMR shares) and
the docs.databricks.com API pages it quotes:

- Auth: ``Authorization: Bearer <PAT>``; a missing or wrong token gets an HTML 403 page
  titled "Error 403 Invalid access token." (not JSON). Other errors are JSON
  ``{"error_code", "message"}`` with MLflow's status for the code.
- Workspace Model Registry: ``GET /api/2.0/mlflow/registered-models/search`` (max_results
  default 100, above 1000 INVALID_PARAMETER_VALUE; opaque page tokens; ``name`` filters with
  =, LIKE, ILIKE; order by name or timestamp), ``registered-models/get``,
  ``model-versions/search`` (default and cap 10000), ``model-versions/get-download-uri``
  (``dbfs:/databricks/mlflow-registry/...`` or ``dbfs:/databricks/mlflow-tracking/...``).
  Stages; versions have the fields of MLflow's ModelVersion, ``aliases`` (a list of
  strings, left out when empty as MLflow's JSON leaves out empty lists) included, which one
  version carries. WMR itself refuses to set aliases, so a real workspace sends none today;
  the wire format has the field, and a connector passes it through.
- Unity Catalog: ``GET /api/2.1/unity-catalog/models`` (page length min(max_results, 1000),
  no ordering guarantee, pages that hold no models yet carry a next_page_token),
  ``GET .../models/{full_name}`` (aliases as ``{alias_name, version_num}``),
  ``GET .../models/{full_name}/versions`` (default 100, at most 1000 a page); a model the
  token may not read answers a JSON 403 PERMISSION_DENIED.
- DBFS: ``GET /api/2.0/dbfs/list`` (absolute paths, no pagination, no ``files`` key for an
  empty folder, a file listed as itself, RESOURCE_DOES_NOT_EXIST when missing), ``get-status``
  and ``read`` (``length`` default 524288, above 1 MB MAX_READ_SIZE_EXCEEDED; a folder or a
  negative offset/length INVALID_PARAMETER_VALUE; base64 ``data`` with ``bytes_read``
  counting decoded bytes; reads past the end stop at the end).
- Files API: ``GET /api/2.0/fs/directories{path}`` (``contents`` of ``{path, is_directory,
  file_size, last_modified, name}`` with ``next_page_token``; pages may be shorter than asked,
  and this one uses short pages to make paging happen) and ``GET /api/2.0/fs/files{path}``
  ("a standard HTTP file download, not a JSON RPC. It supports the Range ... HTTP headers":
  ``Range: bytes=<first>-[<last>]`` answers 206 with ``Content-Range``, a first byte past
  the end 416 with ``Content-Range: bytes */<size>``).
- MLflow-managed run artifacts: ``GET /api/2.0/mlflow/artifacts/list`` (paths relative to
  the run's artifact root, paginated) and ``credentials-for-read``, whose signed URLs point
  to a separate "cloud storage" origin that takes no token and, as Azure Blob Storage does,
  answers ``Range`` the same way.
- Throttling: ``throttle(n)`` makes the next n calls answer 429 REQUEST_LIMIT_EXCEEDED with
  an integer Retry-After (or 503 TEMPORARILY_UNAVAILABLE, with or without one).
- Broken transfers: ``cut_downloads(after, count)`` makes the next ``count`` file bodies
  (Files API or signed URL) stop after ``after`` bytes of the length they announced, the
  connection closed, as a network cut does.

Where the docs are silent the stand-in chooses: WMR versions come newest first, page tokens
are base64 offsets, and the UC model list walks catalogs and schemas in a fixed order.
Files live in a temporary directory: ``dbfs/`` mirrors DBFS, ``fs/`` the Files API root.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import random
import re
import secrets
import shutil
import socket
import tempfile
import threading
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from support.registry_helpers import file_sha256

TOKEN = "dapi0123456789abcdef0123456789abcdef-3"
MAX_READ = 1 << 20
DEFAULT_READ = 524288
REGISTRY_ID = "9f38797c1dbf4e7eb229c4011f0f1f18"
TESTMODEL_ROOT = f"/databricks/mlflow-registry/{REGISTRY_ID}/models/testmodel2"
WINE_RUN = ("123456", "abcdefg0123456789")
WINE_TRACKING_ROOT = f"/databricks/mlflow-tracking/{WINE_RUN[0]}/{WINE_RUN[1]}/artifacts/model"
WINE_V1_ROOT = f"/databricks/mlflow-registry/{REGISTRY_ID}0/models/wine_quality"
WINE_V2_ALIASES = ("champion", "current")
BIG_SIZE = 5 * (1 << 20) + 12345
GENERATED_WMR = 1205
MANY_VERSIONS = 1234
UC_GENERATED = 37
HTML_403 = (
    '<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n'
    "<title>Error 403 Invalid access token.</title>\n</head>\n<body><h2>HTTP ERROR 403</h2>\n"
    "<p>Problem accessing /api/2.0/. Reason:\n<pre>    Invalid access token.</pre></p>\n"
    "</body>\n</html>\n"
)
STATUS_OF = {
    "INVALID_PARAMETER_VALUE": 400,
    "MAX_READ_SIZE_EXCEEDED": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "NOT_FOUND": 404,
    "PERMISSION_DENIED": 403,
    "ENDPOINT_NOT_FOUND": 404,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "TEMPORARILY_UNAVAILABLE": 503,
}


class ApiFailure(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass
class Hit:
    """One request the stand-in received."""

    path: str
    query: dict[str, list[str]]
    authorization: str | None
    range: str | None = None


@dataclass
class WmrVersion:
    version: int
    stage: str
    download_uri: str
    source: str
    run_id: str = ""
    created: int = 0
    aliases: tuple[str, ...] = ()


@dataclass
class WmrModel:
    name: str
    created: int
    versions: list[WmrVersion] = field(default_factory=list)
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class UcModel:
    catalog: str
    schema: str
    name: str
    created: int
    versions: list[int] = field(default_factory=list)
    aliases: dict[str, int] = field(default_factory=dict)
    comment: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.name}"


def _token(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _untoken(token: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise ApiFailure("INVALID_PARAMETER_VALUE", f"Invalid page token: {token}") from None


def _one(query: dict[str, list[str]], key: str, default: str | None = None) -> str | None:
    values = query.get(key)
    return values[0] if values else default


def _int_param(query: dict[str, list[str]], key: str, default: int) -> int:
    value = _one(query, key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiFailure("INVALID_PARAMETER_VALUE", f"{key} must be an integer") from None


def _like(pattern: str, flags: int = 0) -> re.Pattern:
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), flags | re.DOTALL)


def _name_test(filter_text: str | None):
    """The one-clause name filters MLflow's search takes: =, LIKE, ILIKE."""
    if not filter_text:
        return lambda _name: True
    match = re.fullmatch(
        r"""\s*name\s*(=|like|ilike)\s*(?:'([^']*)'|"([^"]*)")\s*""", filter_text, re.I
    )
    if not match:
        raise ApiFailure("INVALID_PARAMETER_VALUE", f"Invalid filter '{filter_text}'")
    op = match.group(1).lower()
    value = match.group(2) if match.group(2) is not None else match.group(3)
    if op == "=":
        return lambda name: name == value
    pattern = _like(value, re.I if op == "ilike" else 0)
    return lambda name: pattern.fullmatch(name) is not None


class DatabricksStandIn:
    """The stand-in workspace: its data, its two HTTP servers, and switches for the tests."""

    def __init__(self, root: Path | None = None) -> None:
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="databricks-standin-"))
        self.dbfs_root = self.root / "dbfs"
        self.fs_root = self.root / "fs"
        self.token = TOKEN
        self.hits: list[Hit] = []
        self.blob_hits: list[Hit] = []
        self.files_page_size = 2
        self.artifacts_page_size = 2
        self._lock = threading.Lock()
        self._throttled = 0
        self._throttle_status = 429
        self._throttle_retry_after: str | None = "1"
        self._cuts: list[int] = []
        self._signed: dict[str, Path] = {}
        self.wmr: dict[str, WmrModel] = {}
        self.uc_shards: list[tuple[str, str]] = []
        self.uc: dict[str, UcModel] = {}
        self.uc_forbidden = {"dev.restricted.secret"}
        self.runs: dict[str, str] = {}
        self._seed()
        self._server = _serve(self, _ApiHandler)
        self._blob = _serve(self, _BlobHandler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.blob_url = f"http://127.0.0.1:{self._blob.server_address[1]}"

    # ---- switches ------------------------------------------------------------------------

    def throttle(self, count: int, retry_after: str | None = "1", status: int = 429) -> None:
        """Make the next ``count`` authenticated calls answer 429 (or 503) instead."""
        with self._lock:
            self._throttled = count
            self._throttle_status = status
            self._throttle_retry_after = retry_after

    def cut_downloads(self, after: int, count: int = 1) -> None:
        """Make the next ``count`` file bodies break off after ``after`` bytes."""
        with self._lock:
            self._cuts = [after] * count

    def take_cut(self) -> int | None:
        with self._lock:
            return self._cuts.pop(0) if self._cuts else None

    def tree(self, path: str, files_api: bool = False) -> dict[str, tuple[bool, int]]:
        """What is stored below ``path``: {relative path: (is folder, size)}."""
        base = (self.fs_root if files_api else self.dbfs_root) / path.lstrip("/")
        return {
            str(p.relative_to(base)): (p.is_dir(), 0 if p.is_dir() else p.stat().st_size)
            for p in base.rglob("*")
        }

    def local_path(self, path: str, files_api: bool = False) -> Path:
        return (self.fs_root if files_api else self.dbfs_root) / path.lstrip("/")

    def calls(self, path_prefix: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.path.startswith(path_prefix)]

    def close(self) -> None:
        for server in (self._server, self._blob):
            server.shutdown()
            server.server_close()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # ---- seed data -----------------------------------------------------------------------

    def _write(self, base: Path, path: str, data: bytes) -> None:
        target = base / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def _seed(self) -> None:
        rng = random.Random(20240611)
        self.big_sha256, self.big_size = self._seed_big_file(rng)
        mlmodel = b"artifact_path: model\nflavors:\n  sklearn:\n    pickled_model: model.pkl\n"
        for path, data in {
            "MLmodel": mlmodel,
            "conda.yaml": b"name: mlflow-env\ndependencies:\n  - python=3.10\n",
            "requirements.txt": b"mlflow==2.4.1\nscikit-learn==1.2.2\n",
            "model.pkl": rng.randbytes(156_456),
            "code/module.py": b"def predict(x):\n    return x\n",
            "data/weights/layer0/bias.npy": rng.randbytes(4096),
            "data/weights/layer0/deeper/kernel.npy": rng.randbytes(10_000),
        }.items():
            self._write(self.dbfs_root, f"{TESTMODEL_ROOT}/{path}", data)
        (self.dbfs_root / TESTMODEL_ROOT.lstrip("/") / "data" / "empty").mkdir(parents=True)
        for path, data in {
            "MLmodel": mlmodel,
            "model.pkl": rng.randbytes(2048),
            "metadata/input_example.json": b'{"columns": ["alcohol"], "data": [[12.8]]}',
            "metadata/signature.json": b'{"inputs": "[]"}',
            "requirements.txt": b"scikit-learn\n",
        }.items():
            self._write(self.dbfs_root, f"{WINE_TRACKING_ROOT}/{path}", data)
        self._write(self.dbfs_root, f"{WINE_V1_ROOT}/model.pkl", rng.randbytes(1024))
        self.runs[WINE_RUN[1]] = WINE_RUN[0]
        base = 1_686_940_722_329
        for i in range(GENERATED_WMR):
            name = f"wmr-model-{i:04d}"
            self.wmr[name] = WmrModel(name, base + i)
        tracking_source = f"dbfs:{WINE_TRACKING_ROOT}"
        self.wmr["testmodel2"] = WmrModel(
            "testmodel2",
            base + 5000,
            [WmrVersion(1, "Production", f"dbfs:{TESTMODEL_ROOT}", tracking_source, WINE_RUN[1])],
            description="A nested model folder",
            tags={"team": "ml"},
        )
        self.wmr["wine_quality"] = WmrModel(
            "wine_quality",
            base + 6000,
            [
                WmrVersion(1, "Archived", f"dbfs:{WINE_V1_ROOT}", tracking_source, WINE_RUN[1]),
                WmrVersion(
                    2,
                    "Production",
                    tracking_source,
                    tracking_source,
                    WINE_RUN[1],
                    aliases=WINE_V2_ALIASES,
                ),
            ],
        )
        self.wmr["many_versions"] = WmrModel(
            "many_versions",
            base + 7000,
            [
                WmrVersion(v, "None", f"dbfs:/databricks/mlflow-registry/m{v}", "", "")
                for v in range(1, MANY_VERSIONS + 1)
            ],
        )
        self._seed_catalog(rng)

    def _seed_big_file(self, rng: random.Random) -> tuple[str, int]:
        target = self.dbfs_root / TESTMODEL_ROOT.lstrip("/") / "data" / "weights" / "big.bin"
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with open(target, "wb") as out:
            left = BIG_SIZE
            while left:
                block = rng.randbytes(min(left, 1 << 20))
                out.write(block)
                digest.update(block)
                left -= len(block)
        uc_big = self.fs_root / "Models" / "main" / "ml" / "churn" / "2" / "data" / "big.bin"
        uc_big.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, uc_big)
        return digest.hexdigest(), BIG_SIZE

    def _seed_catalog(self, rng: random.Random) -> None:
        self.uc_shards = [
            ("main", "default"),
            ("main", "hidden"),
            ("main", "ml"),
            ("system", "ai"),
            ("dev", "restricted"),
            ("dev", "sandbox"),
        ]
        created = 1_700_000_000_000
        churn = UcModel("main", "ml", "churn", created, [1, 2, 3], {"champion": 2, "challenger": 3})
        churn.comment = "Churn classifier"
        models = [churn, UcModel("main", "ml", "fraud", created + 1, [1])]
        models += [
            UcModel("main", "ml", f"gen_{i:02d}", created + 10 + i, [1])
            for i in range(UC_GENERATED)
        ]
        models.append(UcModel("dev", "sandbox", "experiment", created + 99, [1, 2]))
        self.uc = {m.full_name: m for m in models}
        for version in (1, 2, 3):
            folder = f"/Models/main/ml/churn/{version}"
            self._write(self.fs_root, f"{folder}/MLmodel", b"artifact_path: model\n")
            self._write(self.fs_root, f"{folder}/model.pkl", rng.randbytes(1000 + version))
            self._write(
                self.fs_root, f"{folder}/artifacts/tokenizer/vocab.txt", b"a\nb\nc\n" * version
            )
        self._write(self.fs_root, "/Models/dev/sandbox/experiment/1/MLmodel", b"flavors: {}\n")

    # ---- the API -------------------------------------------------------------------------

    def handle(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict, object]:
        """(status, headers, body): a dict body is JSON, bytes/Path are sent as they are."""
        routes = [
            ("/api/2.0/mlflow/registered-models/search", self._wmr_search),
            ("/api/2.0/mlflow/registered-models/get", self._wmr_get),
            ("/api/2.0/mlflow/model-versions/search", self._wmr_versions),
            ("/api/2.0/mlflow/model-versions/get-download-uri", self._wmr_download_uri),
            ("/api/2.0/mlflow/artifacts/list", self._artifacts_list),
            ("/api/2.0/mlflow/artifacts/credentials-for-read", self._credentials_for_read),
            ("/api/2.0/dbfs/list", self._dbfs_list),
            ("/api/2.0/dbfs/get-status", self._dbfs_status),
            ("/api/2.0/dbfs/read", self._dbfs_read),
        ]
        for route, handler in routes:
            if path == route:
                return 200, {}, handler(query)
        if path == "/api/2.1/unity-catalog/models":
            return 200, {}, self._uc_list(query)
        if path.startswith("/api/2.1/unity-catalog/models/"):
            rest = unquote(path[len("/api/2.1/unity-catalog/models/") :])
            if rest.endswith("/versions"):
                return 200, {}, self._uc_versions(rest[: -len("/versions")], query)
            return 200, {}, self._uc_model(rest)
        if path.startswith("/api/2.0/fs/directories/"):
            return 200, {}, self._fs_list(unquote(path[len("/api/2.0/fs/directories") :]), query)
        if path.startswith("/api/2.0/fs/files/"):
            target = self._local(self.fs_root, unquote(path[len("/api/2.0/fs/files") :]))
            if not target.is_file():
                raise ApiFailure("NOT_FOUND", "The file being accessed is not found.")
            return 200, {"Content-Type": "application/octet-stream"}, target
        raise ApiFailure("ENDPOINT_NOT_FOUND", f"No API found for 'GET {path}'")

    def take_throttle(self) -> tuple[int, str | None] | None:
        with self._lock:
            if self._throttled <= 0:
                return None
            self._throttled -= 1
            return self._throttle_status, self._throttle_retry_after

    def _local(self, base: Path, path: str) -> Path:
        if not path.startswith("/") or ".." in path.split("/"):
            raise ApiFailure("INVALID_PARAMETER_VALUE", f"Path must be absolute: {path}")
        return base / path.lstrip("/")

    def _wmr_search(self, query):
        max_results = _int_param(query, "max_results", 100)
        if max_results > 1000 or max_results < 1:
            raise ApiFailure(
                "INVALID_PARAMETER_VALUE",
                f"Invalid value {max_results} for parameter 'max_results' supplied. "
                "See the API docs for more information about request parameters.",
            )
        test = _name_test(_one(query, "filter"))
        models = [m for m in self.wmr.values() if test(m.name)]
        for order in reversed(query.get("order_by") or ["name ASC"]):
            key, _, direction = order.strip().partition(" ")
            attribute = {"name": "name", "timestamp": "created"}.get(key)
            if attribute is None:
                raise ApiFailure("INVALID_PARAMETER_VALUE", f"Invalid order_by clause '{order}'")
            models.sort(key=lambda m: getattr(m, attribute), reverse=direction.upper() == "DESC")
        token = _one(query, "page_token")
        offset = int(_untoken(token)) if token else 0
        page = models[offset : offset + max_results]
        body: dict = {"registered_models": [self._wmr_model(m) for m in page]}
        if offset + max_results < len(models):
            body["next_page_token"] = _token(offset + max_results)
        return body

    def _wmr_model(self, model: WmrModel) -> dict:
        latest: dict[str, WmrVersion] = {}
        for version in model.versions:
            if version.stage not in latest or version.version > latest[version.stage].version:
                latest[version.stage] = version
        body = {
            "name": model.name,
            "creation_timestamp": model.created,
            "last_updated_timestamp": model.created + 1000,
            "user_id": "sample.user@wallaroo.ai",
            "tags": [{"key": k, "value": v} for k, v in model.tags.items()],
        }
        if model.description:
            body["description"] = model.description
        if latest:
            body["latest_versions"] = [self._wmr_version(model, v) for v in latest.values()]
        return body

    def _wmr_version(self, model: WmrModel, version: WmrVersion) -> dict:
        body = {
            "name": model.name,
            "version": str(version.version),
            "creation_timestamp": model.created + version.version,
            "last_updated_timestamp": model.created + version.version + 10,
            "user_id": "sample.user@wallaroo.ai",
            "current_stage": version.stage,
            "source": version.source,
            "run_id": version.run_id,
            "status": "READY",
            "tags": [{"key": "validated", "value": "yes"}] if version.version == 1 else [],
        }
        if version.aliases:
            body["aliases"] = list(version.aliases)
        return body

    def _find_wmr(self, name: str | None) -> WmrModel:
        model = self.wmr.get(name or "")
        if model is None:
            raise ApiFailure("RESOURCE_DOES_NOT_EXIST", f"RegisteredModel '{name}' does not exist.")
        return model

    def _wmr_get(self, query):
        return {"registered_model": self._wmr_model(self._find_wmr(_one(query, "name")))}

    def _wmr_versions(self, query):
        max_results = _int_param(query, "max_results", 10_000)
        if max_results > 10_000 or max_results < 1:
            raise ApiFailure(
                "INVALID_PARAMETER_VALUE",
                f"Invalid value {max_results} for parameter 'max_results' supplied.",
            )
        test = _name_test(_one(query, "filter"))
        rows = [
            (model, version)
            for model in self.wmr.values()
            if test(model.name)
            for version in sorted(model.versions, key=lambda v: -v.version)
        ]
        token = _one(query, "page_token")
        offset = int(_untoken(token)) if token else 0
        body: dict = {
            "model_versions": [
                self._wmr_version(m, v) for m, v in rows[offset : offset + max_results]
            ]
        }
        if offset + max_results < len(rows):
            body["next_page_token"] = _token(offset + max_results)
        return body

    def _wmr_download_uri(self, query):
        model = self._find_wmr(_one(query, "name"))
        wanted = _one(query, "version")
        for version in model.versions:
            if str(version.version) == wanted:
                return {"artifact_uri": version.download_uri}
        raise ApiFailure(
            "RESOURCE_DOES_NOT_EXIST",
            f"Model Version (name={model.name}, version={wanted}) not found",
        )

    def _uc_page_size(self, query, default: int) -> int:
        size = _int_param(query, "max_results", 0)
        if size < 0:
            raise ApiFailure("INVALID_PARAMETER_VALUE", "max_results must be positive")
        return min(size, 1000) if size else default

    def _uc_list(self, query):
        """Walks shard after shard; a page never spans two, so empty shards give empty pages."""
        size = self._uc_page_size(query, 100)
        token = _one(query, "page_token")
        shard, offset = _untoken(token) if token else (0, 0)
        if not 0 <= shard < len(self.uc_shards):
            raise ApiFailure("INVALID_PARAMETER_VALUE", f"Invalid page token: {token}")
        catalog, schema = self.uc_shards[shard]
        models = [m for m in self.uc.values() if (m.catalog, m.schema) == (catalog, schema)]
        page = models[offset : offset + size]
        body: dict = {"registered_models": [self._uc_model_info(m) for m in page]}
        if offset + size < len(models):
            body["next_page_token"] = _token([shard, offset + size])
        elif shard + 1 < len(self.uc_shards):
            body["next_page_token"] = _token([shard + 1, 0])
        return body

    def _uc_model_info(self, model: UcModel) -> dict:
        return {
            "name": model.name,
            "catalog_name": model.catalog,
            "schema_name": model.schema,
            "full_name": model.full_name,
            "owner": "ml-team",
            "comment": model.comment or None,
            "created_at": model.created,
            "created_by": "alice@example.com",
            "updated_at": model.created + 5,
            "updated_by": "alice@example.com",
            "aliases": [
                {"alias_name": alias, "version_num": version}
                for alias, version in model.aliases.items()
            ],
            "storage_location": f"abfss://uc@store.dfs.core.windows.net/models/{model.name}",
        }

    def _find_uc(self, full_name: str) -> UcModel:
        if full_name in self.uc_forbidden:
            raise ApiFailure(
                "PERMISSION_DENIED", f"User does not have EXECUTE on Model '{full_name}'."
            )
        model = self.uc.get(full_name)
        if model is None:
            raise ApiFailure(
                "RESOURCE_DOES_NOT_EXIST", f"Registered model '{full_name}' does not exist."
            )
        return model

    def _uc_model(self, full_name: str):
        return self._uc_model_info(self._find_uc(full_name))

    def _uc_versions(self, full_name: str, query):
        model = self._find_uc(full_name)
        size = self._uc_page_size(query, 100)
        token = _one(query, "page_token")
        offset = int(_untoken(token)) if token else 0
        versions = sorted(model.versions, reverse=True)
        body: dict = {
            "model_versions": [
                {
                    "model_name": model.name,
                    "catalog_name": model.catalog,
                    "schema_name": model.schema,
                    "version": v,
                    "source": f"dbfs:/databricks/mlflow-tracking/1/run{v}/artifacts/model",
                    "run_id": f"run{v}",
                    "status": "READY",
                    "comment": f"version {v}",
                    "created_at": model.created + v,
                    "updated_at": model.created + v + 1,
                    "storage_location": f"abfss://uc@store/models/{model.name}/versions/{v}",
                }
                for v in versions[offset : offset + size]
            ]
        }
        if offset + size < len(versions):
            body["next_page_token"] = _token(offset + size)
        return body

    def _dbfs_info(self, path: str, target: Path) -> dict:
        stat = target.stat()
        return {
            "path": path,
            "is_dir": target.is_dir(),
            "file_size": 0 if target.is_dir() else stat.st_size,
            "modification_time": int(stat.st_mtime * 1000),
        }

    def _dbfs_target(self, query) -> tuple[str, Path]:
        path = _one(query, "path") or ""
        target = self._local(self.dbfs_root, path)
        if not target.exists():
            raise ApiFailure(
                "RESOURCE_DOES_NOT_EXIST", f"No file or directory exists on path {path}."
            )
        return path, target

    def _dbfs_list(self, query):
        path, target = self._dbfs_target(query)
        if target.is_file():
            return {"files": [self._dbfs_info(path, target)]}
        children = sorted(target.iterdir())
        if not children:
            return {}
        base = path.rstrip("/")
        return {"files": [self._dbfs_info(f"{base}/{c.name}", c) for c in children]}

    def _dbfs_status(self, query):
        path, target = self._dbfs_target(query)
        return self._dbfs_info(path, target)

    def _dbfs_read(self, query):
        path, target = self._dbfs_target(query)
        offset = _int_param(query, "offset", 0)
        length = _int_param(query, "length", DEFAULT_READ)
        if length > MAX_READ:
            raise ApiFailure(
                "MAX_READ_SIZE_EXCEEDED",
                f"Cannot read more than 1.0 MiB at a time. Requested {length} bytes.",
            )
        if target.is_dir() or offset < 0 or length < 0:
            raise ApiFailure("INVALID_PARAMETER_VALUE", f"Cannot read {path}: bad request.")
        with open(target, "rb") as handle:
            handle.seek(offset)
            data = handle.read(length)
        return {"bytes_read": len(data), "data": base64.b64encode(data).decode()}

    def _fs_list(self, path: str, query):
        target = self._local(self.fs_root, path.rstrip("/") or "/")
        if not target.is_dir():
            raise ApiFailure("NOT_FOUND", f"The directory being accessed is not found: {path}")
        token = _one(query, "page_token")
        offset = int(_untoken(token)) if token else 0
        size = min(_int_param(query, "page_size", self.files_page_size), self.files_page_size)
        children = sorted(target.iterdir())
        base = path.rstrip("/")
        contents = []
        for child in children[offset : offset + size]:
            stat = child.stat()
            entry = {
                "path": f"{base}/{child.name}",
                "is_directory": child.is_dir(),
                "name": child.name,
            }
            if child.is_file():
                entry["file_size"] = stat.st_size
                entry["last_modified"] = int(stat.st_mtime * 1000)
            contents.append(entry)
        body: dict = {"contents": contents}
        if offset + size < len(children):
            body["next_page_token"] = _token(offset + size)
        return body

    def _run_root(self, query) -> tuple[str, Path]:
        run_id = _one(query, "run_id") or ""
        experiment = self.runs.get(run_id)
        if experiment is None:
            raise ApiFailure("RESOURCE_DOES_NOT_EXIST", f"Run '{run_id}' not found.")
        root = f"/databricks/mlflow-tracking/{experiment}/{run_id}/artifacts"
        return root, self.dbfs_root / root.lstrip("/")

    def _artifacts_list(self, query):
        root, local_root = self._run_root(query)
        rel = (_one(query, "path") or "").strip("/")
        target = self._local(local_root, f"/{rel}") if rel else local_root
        body: dict = {"root_uri": f"dbfs:{root}"}
        if not target.is_dir():
            return body
        children = sorted(target.iterdir())
        token = _one(query, "page_token")
        offset = int(_untoken(token)) if token else 0
        size = self.artifacts_page_size
        body["files"] = [
            {
                "path": f"{rel}/{c.name}" if rel else c.name,
                "is_dir": c.is_dir(),
                **({} if c.is_dir() else {"file_size": c.stat().st_size}),
            }
            for c in children[offset : offset + size]
        ]
        if offset + size < len(children):
            body["next_page_token"] = _token(offset + size)
        return body

    def _credentials_for_read(self, query):
        _, local_root = self._run_root(query)
        infos = []
        for rel in query.get("path") or []:
            signature = secrets.token_urlsafe(16)
            with self._lock:
                self._signed[signature] = self._local(local_root, f"/{rel.strip('/')}")
            infos.append(
                {
                    "run_id": _one(query, "run_id"),
                    "path": rel,
                    "signed_uri": f"{self.blob_url}/container/{quote(rel)}?sig={signature}",
                    "type": "AZURE_SAS_URI",
                    "headers": [],
                }
            )
        return {"credential_infos": infos}

    def signed_file(self, signature: str) -> Path | None:
        with self._lock:
            return self._signed.get(signature)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    standin: DatabricksStandIn

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: object, headers: dict | None = None) -> None:
        headers = dict(headers or {})
        if isinstance(body, Path):
            self._send_file(body, headers)
            return
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            data = body if isinstance(body, bytes) else str(body).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_file(self, path: Path, headers: dict) -> None:
        """A file download: the whole file, or the byte range the request asks for."""
        size = path.stat().st_size
        first, last = 0, size - 1
        status = 200
        wanted = _byte_range(self.headers.get("Range"))
        if wanted is not None:
            first, last = wanted[0], size - 1 if wanted[1] is None else min(wanted[1], size - 1)
            if first >= size or last < first:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        length = last - first + 1
        self.send_response(status)
        headers.setdefault("Content-Type", "application/octet-stream")
        headers.setdefault("Accept-Ranges", "bytes")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        cut = self.standin.take_cut()
        with open(path, "rb") as handle, suppress(BrokenPipeError, ConnectionResetError):
            handle.seek(first)
            left = length if cut is None else min(cut, length)
            while left:
                block = handle.read(min(left, 256 * 1024))
                if not block:
                    break
                self.wfile.write(block)
                left -= len(block)
            if cut is not None:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)


def _byte_range(header: str | None) -> tuple[int, int | None] | None:
    """(first, last or None) of a one-range ``bytes=`` header; None for none or another
    form, which a server may ignore and answer with the whole file."""
    match = re.fullmatch(r"\s*bytes=([0-9]+)-([0-9]*)\s*", header or "")
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)) if match.group(2) else None


class _ApiHandler(_Handler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        standin = self.standin
        with standin._lock:
            standin.hits.append(
                Hit(
                    parts.path,
                    query,
                    self.headers.get("Authorization"),
                    self.headers.get("Range"),
                )
            )
        if self.headers.get("Authorization") != f"Bearer {standin.token}":
            self._send(403, HTML_403.encode(), {"Content-Type": "text/html;charset=utf-8"})
            return
        throttled = standin.take_throttle()
        if throttled is not None:
            status, retry_after = throttled
            code = "REQUEST_LIMIT_EXCEEDED" if status == 429 else "TEMPORARILY_UNAVAILABLE"
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            body = {"error_code": code, "message": "Too many requests. Please wait and retry."}
            self._send(status, body, headers)
            return
        try:
            status, headers, body = standin.handle(parts.path, query)
        except ApiFailure as failure:
            body = {"error_code": failure.code, "message": failure.message}
            self._send(STATUS_OF.get(failure.code, 500), body)
            return
        self._send(status, body, headers)


class _BlobHandler(_Handler):
    """Cloud storage behind signed URLs: the signature is the only credential it takes."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        standin = self.standin
        with standin._lock:
            standin.blob_hits.append(
                Hit(
                    parts.path,
                    query,
                    self.headers.get("Authorization"),
                    self.headers.get("Range"),
                )
            )
        target = standin.signed_file(_one(query, "sig") or "")
        if target is None or not target.is_file():
            body = b"<?xml version='1.0'?><Error><Code>AuthenticationFailed</Code></Error>"
            self._send(403, body, {"Content-Type": "application/xml"})
            return
        self._send(200, target)


def _serve(standin: DatabricksStandIn, handler: type[_Handler]) -> http.server.HTTPServer:
    bound = type(handler.__name__, (handler,), {"standin": standin})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), bound)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# The sha256 of a file on disk; one implementation for every test module.
local_sha256 = file_sha256
