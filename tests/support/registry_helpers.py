"""Small helpers the test modules share: the independent oracles (what MLflow itself reports,
the bytes on disk) and the repeated steps of reading a listing or a download."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "artifact_named",
    "digest_download",
    "file_sha256",
    "local_http_server",
    "mlflow_file",
    "mlflow_model_names",
    "read_download",
]


def artifact_named(client: Any, registry: str, name: str, version: str, relative_path: str):
    """The listed file of a version whose ``relative_path`` is ``relative_path``."""
    listed = client.list_artifacts(registry, name, version)
    return next(a for a in listed if a.relative_path == relative_path)


def read_download(download: Any) -> bytes:
    """Every byte of a connector's download, which is closed afterwards."""
    try:
        return b"".join(download.chunks)
    finally:
        download.close()


def digest_download(download: Any) -> tuple[str, int, int]:
    """(sha256, size, largest chunk) of a connector's download, which is closed afterwards."""
    digest, total, largest = hashlib.sha256(), 0, 0
    try:
        for chunk in download.chunks:
            digest.update(chunk)
            total += len(chunk)
            largest = max(largest, len(chunk))
    finally:
        download.close()
    return digest.hexdigest(), total, largest


def file_sha256(path: os.PathLike | str) -> str:
    """The sha256 of a file on disk, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mlflow_model_names(url: str, **query: Any) -> list[str]:
    """Every registered model's name, in order, as MLflow's own client pages through them."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    names, token = [], None
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token, **query)
        names += [model.name for model in page]
        token = page.token
        if not token:
            return names


def mlflow_file(url: str, name: str, version: str, relative_path: str, target: Path) -> Path:
    """A version's file as MLflow's own client downloads it, into ``target``."""
    import mlflow

    mlflow.set_tracking_uri(url)
    uri = f"models:/{name}/{version}/{relative_path}"
    return Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(target)))


@contextmanager
def local_http_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded HTTP server on a free 127.0.0.1 port answering with ``handler``: its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class EmptyMlflow(http.server.BaseHTTPRequestHandler):
    """An MLflow stand-in answering every GET with an empty JSON object (an empty page of
    models) over keep-alive HTTP/1.1; ``seen_request`` is told of each request first."""

    protocol_version = "HTTP/1.1"

    def seen_request(self) -> None:
        """What a stand-in remembers of a request (nothing here)."""

    def do_GET(self) -> None:
        self.seen_request()
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


TRICKLE_PATH = "/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/model.pkl"
"""A file path on an MLflow registry's origin, for ``TrickleFile`` to answer."""


class TrickleFile(http.server.BaseHTTPRequestHandler):
    """A registry file (any path) of 1 MiB that comes 64 bytes every 0.1 s, so an upload of
    it stays in flight for the length of a test."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        try:
            for _ in range(300):
                self.wfile.write(b"t" * 64)
                self.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass
