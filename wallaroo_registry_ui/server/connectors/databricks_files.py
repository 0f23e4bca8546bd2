"""The three places a Databricks workspace keeps model files, each read through its own API.

- DBFS (``/databricks/mlflow-registry/...``, what Workspace Model Registry versions point to):
  the DBFS API's ``list``, ``get-status`` and ``read``; reads come base64-encoded, at most
  1 MB each.
- The MLflow-managed run location (``/databricks/mlflow-tracking/...``): access-controlled,
  so not through DBFS; listed with ``mlflow/artifacts/list`` and read from the signed URL
  ``mlflow/artifacts/credentials-for-read`` hands out (the token never goes there).
- Unity Catalog model files (``/Models/<catalog>/<schema>/<model>/<version>/...``): the
  Files API's ``directories`` listing and plain ``files`` downloads.

A download may start at an offset: DBFS ``read`` takes one, and the Files API and the
signed URLs of cloud storage take a ``Range`` (``byte_ranges.open_body``).

Every store lists one folder level at a time with absolute paths; ``walk`` recurses over any
of them, since none of these APIs lists a tree.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from wallaroo_registry_ui.server.connectors.base import (
    ArtifactDownload,
    InvalidArtifactPath,
    RegistryNotFound,
    UpstreamError,
)
from wallaroo_registry_ui.server.connectors.byte_ranges import open_body
from wallaroo_registry_ui.server.connectors.http import RegistryHttp, query_params
from wallaroo_registry_ui.server.connectors.mlflow_rest import MLFLOW_API

DBFS_API = "/api/2.0/dbfs"
FILES_API = "/api/2.0/fs"
TRACKING_ROOT = "/databricks/mlflow-tracking/"
READ_SIZE = 1 << 20
STREAM_CHUNK = 1 << 20
MAX_DEPTH = 32
MAX_ENTRIES = 50_000
MAX_LIST_PAGES = 1000


@dataclass(frozen=True)
class Entry:
    """One file or folder: its absolute path in its store, and what the store says of it."""

    path: str
    is_dir: bool
    size: int
    modification_time: int | None


class FileStore(Protocol):
    """Lists one folder, names a file's URL, and streams a file from an offset on (see
    ``ArtifactDownload.offset``); paths are absolute."""

    def list_dir(self, path: str) -> list[Entry]: ...

    def full_path(self, path: str) -> str: ...

    def open(self, path: str, provenance: dict, offset: int = 0) -> ArtifactDownload: ...


def walk(store: FileStore, root: str, registry_name: str) -> list[tuple[str, Entry]]:
    """Every entry below ``root`` as (path relative to ``root``, entry), sorted by path.

    An entry that is not strictly inside the folder being listed is skipped: that covers
    DBFS answering a listing of a file with the file itself, and any answer that strays.
    """
    root = root.rstrip("/")
    found: dict[str, Entry] = {}
    todo: deque[tuple[str, str, int]] = deque([(root, "", 0)])
    while todo:
        folder, folder_rel, depth = todo.popleft()
        for entry in store.list_dir(folder):
            name = _below(entry.path, folder)
            if name is None:
                continue
            rel = f"{folder_rel}/{name}" if folder_rel else name
            if rel in found:
                continue
            found[rel] = entry
            if len(found) > MAX_ENTRIES:
                raise UpstreamError(registry_name, f"a version has more than {MAX_ENTRIES} files")
            if entry.is_dir:
                if depth >= MAX_DEPTH:
                    raise UpstreamError(
                        registry_name, f"a version has folders nested deeper than {MAX_DEPTH}"
                    )
                todo.append((f"{folder}/{name}", rel, depth + 1))
    return sorted(found.items())


def _below(path: str, folder: str) -> str | None:
    """``path`` relative to ``folder`` when it is one well-formed level below it, else None."""
    prefix = f"{folder}/"
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix) :].rstrip("/")
    if not rest or "/" in rest or rest in (".", ".."):
        return None
    return rest


def folder_error(registry_name: str, path: str) -> InvalidArtifactPath:
    return InvalidArtifactPath(
        f"path {path!r} is a folder of registry '{registry_name}'; name one of its files"
    )


class DbfsFiles:
    """Files in DBFS through ``/api/2.0/dbfs``; reads are 1 MB base64 chunks, never more."""

    def __init__(self, http: RegistryHttp) -> None:
        self._http = http

    def list_dir(self, path: str) -> list[Entry]:
        """One level; DBFS leaves out ``files`` for an empty folder and does not paginate."""
        body = self._http.get_json(f"{DBFS_API}/list", {"path": path})
        return [
            _entry(raw["path"], raw, "is_dir", raw.get("modification_time"))
            for raw in _listed(body, "files")
        ]

    def full_path(self, path: str) -> str:
        """As Wallaroo's registry guide shows it:
        ``<workspace>/api/2.0/dbfs/read?path=/databricks/...``."""
        return f"{self._http.base_url}{DBFS_API}/read?path={quote(path, safe='/')}"

    def open(self, path: str, provenance: dict, offset: int = 0) -> ArtifactDownload:
        """Reads start at ``offset``, or at 0 when the file is now shorter than that."""
        if offset < 0:
            raise ValueError(f"offset must not be negative, not {offset}")
        status = self._http.get_json(f"{DBFS_API}/get-status", {"path": path})
        if status.get("is_dir"):
            raise folder_error(self._http.registry_name, path)
        size = _int(status.get("file_size"))
        if size is None or size < 0:
            raise UpstreamError(self._http.registry_name, f"DBFS gave no size for {path}")
        start = offset if offset <= size else 0
        chunks = self._read(path, size, start)
        return ArtifactDownload(
            posixpath.basename(path), chunks, size, provenance, closer=chunks, offset=start
        )

    def _read(self, path: str, size: int, offset: int) -> Iterator[bytes]:
        """The file's bytes from ``offset`` on, one ``read`` of at most 1 MB at a time,
        checked as they come."""
        name = self._http.registry_name
        while offset < size:
            length = min(READ_SIZE, size - offset)
            body = self._http.get_json(
                f"{DBFS_API}/read", {"path": path, "offset": offset, "length": length}
            )
            data = _base64(body.get("data"), name, path)
            count = body.get("bytes_read")
            if not isinstance(count, int) or count != len(data) or count > length:
                raise UpstreamError(
                    name,
                    f"DBFS answered a read of {path} at offset {offset} with a bytes_read "
                    f"that does not match its {len(data)} bytes of data",
                )
            if count == 0:
                raise UpstreamError(
                    name, f"{path} ended after {offset} of the {size} bytes DBFS announced"
                )
            offset += count
            yield data


class TrackingFiles:
    """Run artifacts under ``/databricks/mlflow-tracking/<experiment>/<run>/artifacts``."""

    def __init__(self, http: RegistryHttp) -> None:
        self._http = http

    def list_dir(self, path: str) -> list[Entry]:
        run_id, rel, prefix = self._split(path)

        def page(token: str | None) -> tuple[list[Entry], dict]:
            body = self._http.get_json(
                f"{MLFLOW_API}/artifacts/list",
                query_params(run_id=run_id, path=rel or None, page_token=token),
            )
            entries = [
                _entry(f"{prefix}{raw['path'].strip('/')}", raw, "is_dir", None)
                for raw in _listed(body, "files")
            ]
            return entries, body

        return _every_page(page, path, self._http.registry_name)

    def full_path(self, path: str) -> str:
        """The ``dbfs:`` URI: no URL on the workspace serves these bytes to a token directly."""
        return f"dbfs:{path}"

    def open(self, path: str, provenance: dict, offset: int = 0) -> ArtifactDownload:
        """A signed URL is minted for each open, so a resumed download never meets an
        expired one."""
        name = self._http.registry_name
        run_id, rel, _ = self._split(path)
        listed = {e.path: e for e in self.list_dir(posixpath.dirname(path))}
        entry = listed.get(path)
        if entry is None:
            raise RegistryNotFound(name, f"run {run_id} has no file {rel}", 404)
        if entry.is_dir:
            raise folder_error(name, f"dbfs:{path}")
        body = self._http.get_json(
            f"{MLFLOW_API}/artifacts/credentials-for-read", {"run_id": run_id, "path": rel}
        )
        infos = [i for i in body.get("credential_infos") or [] if isinstance(i, dict)]
        uri = next((i.get("signed_uri") for i in infos if i.get("signed_uri")), None)
        if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
            raise UpstreamError(name, f"gave no signed URL to read {rel} of run {run_id}")
        return _streamed(self._http, uri, path, entry.size, provenance, offset)

    def _split(self, path: str) -> tuple[str, str, str]:
        """(run id, path under the run's artifact root, that root with a trailing ``/``)."""
        parts = tracking_parts(path)
        if parts is None:
            raise InvalidArtifactPath(f"{path!r} is not inside an MLflow run's artifacts")
        return parts


def tracking_parts(path: str) -> tuple[str, str, str] | None:
    """(run id, path under the run's artifacts, artifact root + ``/``), for paths that read
    ``/databricks/mlflow-tracking/<experiment>/<run>/artifacts[/...]``; else None."""
    if not path.startswith(TRACKING_ROOT):
        return None
    parts = path[len(TRACKING_ROOT) :].split("/")
    if len(parts) < 3 or not parts[0] or not parts[1] or parts[2] != "artifacts":
        return None
    prefix = f"{TRACKING_ROOT}{parts[0]}/{parts[1]}/artifacts/"
    return parts[1], "/".join(parts[3:]).strip("/"), prefix


class CatalogFiles:
    """Unity Catalog model files through the Files API (``/api/2.0/fs``)."""

    def __init__(self, http: RegistryHttp) -> None:
        self._http = http

    def list_dir(self, path: str) -> list[Entry]:
        """Every page of one folder: an entry count never tells that a listing is complete."""

        def page(token: str | None) -> tuple[list[Entry], dict]:
            body = self._http.get_json(
                f"{FILES_API}/directories{quote(path, safe='/')}", query_params(page_token=token)
            )
            entries = [
                _entry(raw["path"].rstrip("/"), raw, "is_directory", raw.get("last_modified"))
                for raw in _listed(body, "contents")
            ]
            return entries, body

        return _every_page(page, path, self._http.registry_name)

    def full_path(self, path: str) -> str:
        return f"{self._http.base_url}{FILES_API}/files{quote(path, safe='/')}"

    def open(self, path: str, provenance: dict, offset: int = 0) -> ArtifactDownload:
        url = f"{FILES_API}/files{quote(path, safe='/')}"
        return _streamed(self._http, url, path, None, provenance, offset)


def _listed(body: dict, key: str) -> list[dict]:
    """The entries of a listing's answer under ``key`` that have a path; others are skipped."""
    return [
        raw
        for raw in body.get(key) or []
        if isinstance(raw, dict) and isinstance(raw.get("path"), str)
    ]


def _entry(path: str, raw: dict, dir_key: str, modified: object) -> Entry:
    """An entry from a listing's ``raw`` answer; ``dir_key`` is how that API flags folders."""
    is_dir = bool(raw.get(dir_key))
    size = 0 if is_dir else _int(raw.get("file_size")) or 0
    return Entry(path=path, is_dir=is_dir, size=size, modification_time=_int(modified))


def _every_page(
    page: Callable[[str | None], tuple[list[Entry], dict]], path: str, registry_name: str
) -> list[Entry]:
    """Every entry of a paginated folder listing; ``page`` fetches one page by its token.

    A token answered twice in a row, or more than ``MAX_LIST_PAGES`` pages, ends it with an
    error rather than looping on a registry that never says it is done.
    """
    entries: list[Entry] = []
    token: str | None = None
    for _ in range(MAX_LIST_PAGES):
        found, body = page(token)
        entries += found
        token = _next_token(body, token, registry_name)
        if token is None:
            return entries
    raise UpstreamError(registry_name, f"{path} lists over {MAX_LIST_PAGES} pages")


def _next_token(body: dict, previous: str | None, registry_name: str) -> str | None:
    token = body.get("next_page_token") or None
    if token is not None and token == previous:
        raise UpstreamError(registry_name, "answered the same page token twice in a row")
    return token


def _streamed(
    http: RegistryHttp, url: str, path: str, size: int | None, provenance: dict, offset: int
) -> ArtifactDownload:
    """A download of the file at ``path`` streamed from ``url`` from ``offset`` on where the
    server honours the range; ``size`` None: as the answer announces it."""
    opened = open_body(http, url, offset=offset)
    return ArtifactDownload(
        posixpath.basename(path),
        opened.chunks(http, STREAM_CHUNK),
        opened.total if size is None else size,
        provenance,
        closer=opened.response,
        offset=opened.offset,
    )


def _int(value: object) -> int | None:
    """An integer from JSON, where int64 fields may come as strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _base64(data: object, registry_name: str, path: str) -> bytes:
    if not isinstance(data, str):
        raise UpstreamError(registry_name, f"DBFS sent a read of {path} without data")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise UpstreamError(
            registry_name, f"DBFS sent a read of {path} that is not base64"
        ) from None
