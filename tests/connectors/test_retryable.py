"""``is_retryable``: which connector errors are worth another try, as a table, and for the
errors real failures raise (a refused port, a 404, a 503 past the budget, a redirect loop)."""

from __future__ import annotations

import http.server

import pytest
from support.registry_helpers import local_http_server

from wallaroo_registry_ui.demo.processes import free_port
from wallaroo_registry_ui.server.connectors.base import (
    ConnectorError,
    InvalidArtifactPath,
    RegistryNotFound,
    UpstreamBroken,
    UpstreamError,
    UpstreamTimeout,
    is_retryable,
)
from wallaroo_registry_ui.server.connectors.http import RegistryHttp
from wallaroo_registry_ui.server.connectors.mlflow import MlflowConnector


@pytest.mark.parametrize(
    "error, retryable",
    [
        (UpstreamBroken("r", "the connection broke in the middle of a file"), True),
        (UpstreamTimeout("r", "sent nothing for 30 s"), True),
        (UpstreamTimeout("r", "no answer", 504), True),
        (UpstreamError("r", "too many requests", 429), True),
        (UpstreamError("r", "request timeout", 408), True),
        (UpstreamError("r", "internal error", 500), True),
        (UpstreamError("r", "not implemented", 501), True),
        (UpstreamError("r", "bad gateway", 502), True),
        (UpstreamError("r", "unavailable", 503), True),
        (UpstreamError("r", "gateway timeout", 504), True),
        (RegistryNotFound("r", "no such file", 404), False),
        (UpstreamError("r", "bad request", 400), False),
        (UpstreamError("r", "the registry rejected the token", 401), False),
        (UpstreamError("r", "forbidden", 403), False),
        (UpstreamError("r", "gone", 410), False),
        (UpstreamError("r", "range not satisfiable", 416), False),
        (UpstreamError("r", "part of a file for the whole", 206), False),
        (UpstreamError("r", "answered an HTML page instead of JSON", 200), False),
        (UpstreamError("r", "redirected more than 5 times"), False),
        (UpstreamError("r", "a version has more than 50000 files"), False),
        (InvalidArtifactPath("path '' is not a file of registry 'r': it is empty"), False),
        (ConnectorError("anything else"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_the_table(error, retryable):
    assert is_retryable(error) is retryable


def _answering(status: int, **headers: str) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = b'{"error_code": "X", "message": "scripted"}'
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key.replace("_", "-"), value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _download_error(url: str) -> UpstreamError:
    http = RegistryHttp("scripted", url, timeout=2, max_retry_seconds=0.5)
    with pytest.raises(UpstreamError) as caught:
        MlflowConnector("scripted", url, http=http).open_download("mlflow-artifacts:/0/x/y.bin")
    return caught.value


@pytest.mark.parametrize(
    "status, headers, kind, retryable",
    [
        (404, {}, RegistryNotFound, False),
        (403, {}, UpstreamError, False),
        (503, {"Retry_After": "1"}, UpstreamError, True),
        (500, {}, UpstreamError, True),
        (302, {"Location": "/api/2.0/mlflow-artifacts/artifacts/0/x/y.bin"}, UpstreamError, False),
    ],
)
def test_what_real_answers_raise(status, headers, kind, retryable):
    with local_http_server(_answering(status, **headers)) as url:
        error = _download_error(url)
    assert type(error) is kind
    assert is_retryable(error) is retryable


def test_a_refused_connection_is_retryable():
    error = _download_error(f"http://127.0.0.1:{free_port()}")
    assert isinstance(error, UpstreamBroken) and "nothing answers at" in str(error)
    assert is_retryable(error)
