"""Pluggable registry auth: whatever signs the requests goes to the registry's origin only
(redirects within it included, never across), and every secret it names is masked."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import logging
import threading
from collections.abc import Iterator

import pytest
import requests

from wallaroo_registry_ui.server.connectors.base import UpstreamError
from wallaroo_registry_ui.server.connectors.http import RegistryHttp
from wallaroo_registry_ui.server.connectors.registry_auth import (
    BearerToken,
    NoAuth,
    RegistryAuth,
    token_auth,
)

TOKEN = "tok-3c2b1a-secret-token"
SIGNING_KEY = "k3y-that-signs-every-request"


class SignedRequests(requests.auth.AuthBase):
    """A signed-request scheme: an HMAC of method and path, keyed with a secret."""

    def __init__(self, key: str) -> None:
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["X-Signature"] = signature(self._key, request.method, request.path_url)
        return request

    def secrets(self) -> tuple[str, ...]:
        return (self._key,)


def signature(key: str, method: str | None, path: str) -> str:
    return hmac.new(key.encode(), f"{method} {path}".encode(), hashlib.sha256).hexdigest()


class Recorder:
    """An HTTP server on 127.0.0.1 that answers from ``routes`` and records request headers."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                recorder.requests.append((self.path, dict(self.headers)))
                status, headers, body = recorder.routes.get(path, (404, {}, b"{}"))
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def headers_of(self, path: str) -> list[dict[str, str]]:
        return [headers for seen, headers in self.requests if seen.split("?")[0] == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[Recorder, Recorder]]:
    """The registry's origin, and another origin it redirects to."""
    own, other = Recorder(), Recorder()
    landing = (200, {"Content-Type": "application/json"}, b'{"landed": true}')
    own.routes["/landing"] = other.routes["/landing"] = landing
    own.routes["/home"] = (307, {"Location": "/landing"}, b"")
    own.routes["/away"] = (302, {"Location": f"{other.url}/landing"}, b"")
    yield own, other
    own.close()
    other.close()


def test_a_signing_auth_signs_own_origin_requests_only(servers):
    own, other = servers
    http = RegistryHttp("signed", own.url, SignedRequests(SIGNING_KEY), max_retry_seconds=0)
    assert http.get_json("/home") == {"landed": True}
    assert http.get_json("/away") == {"landed": True}
    home, own_landing = own.headers_of("/home")[0], own.headers_of("/landing")[0]
    assert home["X-Signature"] == signature(SIGNING_KEY, "GET", "/home")
    assert own_landing["X-Signature"] == signature(SIGNING_KEY, "GET", "/landing")
    assert own.headers_of("/away")[0]["X-Signature"] == signature(SIGNING_KEY, "GET", "/away")
    elsewhere = other.headers_of("/landing")
    assert len(elsewhere) == 1
    assert "X-Signature" not in elsewhere[0] and "Authorization" not in elsewhere[0]


def test_a_token_string_is_a_bearer_token_for_the_origin_only(servers):
    own, other = servers
    http = RegistryHttp("bearer", own.url, TOKEN, max_retry_seconds=0)
    http.get_json("/away")
    http.get_json("/home")
    assert {h["Authorization"] for h in own.headers_of("/away") + own.headers_of("/landing")} == {
        f"Bearer {TOKEN}"
    }
    assert "Authorization" not in other.headers_of("/landing")[0]


def test_what_the_auth_names_secret_is_masked_in_the_log(servers, caplog):
    """An error never repeats the registry's body; the service log describes it, with what
    the auth names secret masked."""
    own, _ = servers
    echo = {"error_code": "BAD_REQUEST", "message": f"bad key {SIGNING_KEY} for {TOKEN}"}
    own.routes["/echo"] = (400, {"Content-Type": "application/json"}, json.dumps(echo).encode())
    signed = RegistryHttp("signed", own.url, SignedRequests(SIGNING_KEY), max_retry_seconds=0)
    with caplog.at_level(logging.INFO), pytest.raises(UpstreamError) as caught:
        signed.get_json("/echo")
    assert str(caught.value) == (
        "registry 'signed' answered HTTP 400: it refused the request (BAD_REQUEST)"
    )
    assert f"bad key **** for {TOKEN}" in caplog.text and SIGNING_KEY not in caplog.text
    caplog.clear()
    bearer = RegistryHttp("bearer", own.url, TOKEN, max_retry_seconds=0)
    with caplog.at_level(logging.INFO), pytest.raises(UpstreamError) as caught:
        bearer.get_json("/echo")
    assert TOKEN not in caplog.text and f"bad key {SIGNING_KEY} for ****" in caplog.text
    assert bearer.redact(f"{own.url}/x?token={TOKEN}") == f"{own.url}/x?token=****"


def test_longer_secrets_are_masked_first():
    class TwoKeys(NoAuth):
        def secrets(self) -> tuple[str, ...]:
            return ("abc", "abcdef", "")

    http = RegistryHttp("two", "http://127.0.0.1:9", TwoKeys())
    assert http.redact("abcdef and abc and abcd") == "**** and **** and ****d"


def test_no_token_sends_no_credentials_not_even_from_netrc(servers, tmp_path, monkeypatch):
    own, _ = servers
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password from-netrc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert requests.get(f"{own.url}/landing", timeout=5).request.headers.get("Authorization")
    RegistryHttp("open", own.url, max_retry_seconds=0).get_json("/landing")
    assert "Authorization" not in own.headers_of("/landing")[-1]


def test_tokens_become_auth_in_one_place():
    assert isinstance(token_auth("r", ""), NoAuth) and token_auth("r", "").secrets() == ()
    bearer = token_auth("r", TOKEN)
    assert isinstance(bearer, BearerToken) and bearer.secrets() == (TOKEN,)
    prepared = bearer(requests.Request("GET", "http://x/").prepare())
    assert prepared.headers["Authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(UpstreamError) as caught:
        RegistryHttp("broken", "http://127.0.0.1:9", "line\nbreak")
    assert str(caught.value) == (
        "registry 'broken': its stored token cannot be sent in an HTTP header; connect the "
        "registry again with the token as the registry issued it"
    )
    auth: RegistryAuth = SignedRequests(SIGNING_KEY)
    assert auth.secrets() == (SIGNING_KEY,)
