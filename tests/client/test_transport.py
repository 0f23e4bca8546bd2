"""The client's HTTP transport against real sockets: which failures are retried and for how
long, Retry-After, dropped and refused connections, redirects, and answers that are not JSON."""

from __future__ import annotations

import email.utils
import socket
import threading
import time

import pytest
from support.api_samples import REGISTRY_ID, TOKEN
from support.scripted_api import ScriptedApi, ok

from wallaroo_registry_ui.client import RegistryClient
from wallaroo_registry_ui.client.errors import (
    BadRequest,
    ConnectionFailed,
    RegistryApiError,
    UpstreamTimedOut,
)
from wallaroo_registry_ui.demo.processes import free_port


def test_429_waits_for_retry_after_then_succeeds(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(
        "/v1/api/workspaces/list",
        (429, {"msg": "slow down", "code": 429}, {"Retry-After": "1"}),
        ok({"workspaces": []}),
    )
    started = time.monotonic()
    assert client.list_workspaces() == []
    assert time.monotonic() - started >= 0.9
    assert len(api.received) == 2


def test_retry_after_as_an_http_date(api: ScriptedApi, client: RegistryClient) -> None:
    """Retry-After may be a date (RFC 9110): the client waits until then, not its own backoff."""
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    api.respond(
        "/v1/api/workspaces/list",
        (429, {"msg": "slow down", "code": 429}, {"Retry-After": when}),
        ok({"workspaces": []}),
    )
    started = time.monotonic()
    assert client.list_workspaces() == []
    # The date has whole seconds: at least 2 s of the 3 are left when the answer comes.
    assert time.monotonic() - started >= 1.9
    assert len(api.received) == 2


def test_503_twice_then_200(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(
        "/v1/api/models/get_registry",
        (503, {"msg": "busy", "code": 503}, {}),
        (503, "<html><title>503 Service Unavailable</title></html>", {}),
        ok({"id": REGISTRY_ID, "name": "r", "url": "u", "token": ""}),
    )
    assert client.get_registry(REGISTRY_ID).name == "r"
    assert len(api.received) == 3


@pytest.mark.parametrize("status", [502, 503, 504, 429])
def test_a_write_is_never_retried(api: ScriptedApi, client: RegistryClient, status: int) -> None:
    api.respond("/v1/api/workspaces/create", (status, {"msg": "no", "code": status}, {}))
    with pytest.raises(RegistryApiError) as caught:
        client.create_workspace("team-a")
    assert caught.value.status == status
    assert len(api.received) == 1


def test_a_400_is_not_retried(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(
        "/v1/api/workspaces/list_users", (400, {"msg": "workspace_id: bad", "code": 400}, {})
    )
    with pytest.raises(BadRequest):
        client.list_users(3)
    assert len(api.received) == 1


def test_retries_stop_within_the_bound(api: ScriptedApi) -> None:
    gateway = "<html><title>504 Gateway Time-out</title></html>"
    api.respond("/v1/api/workspaces/list", (504, gateway, {}))
    client = RegistryClient(api.base_url, TOKEN, max_retry_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(UpstreamTimedOut) as caught:
        client.list_workspaces()
    assert time.monotonic() - started < 2.5
    assert len(api.received) >= 2
    assert "504 Gateway Time-out" in caught.value.message


@pytest.mark.parametrize("status", [502, 504])
def test_the_services_own_upstream_error_is_not_retried(api: ScriptedApi, status: int) -> None:
    """The service already retried the registry; its JSON 502/504 is final."""
    body = {
        "msg": "registry 'r' answered HTTP 403: the registry rejected the token",
        "code": status,
    }
    api.respond("/v1/api/models/list_registry_models", (status, body, {}))
    client = RegistryClient(api.base_url, TOKEN, max_retry_seconds=5.0)
    with pytest.raises(RegistryApiError) as caught:
        client.list_registry_models(REGISTRY_ID)
    assert caught.value.status == status
    assert len(api.received) == 1


def test_a_retry_after_beyond_the_bound_gives_up_at_once(api: ScriptedApi) -> None:
    api.respond(
        "/v1/api/workspaces/list", (429, {"msg": "later", "code": 429}, {"Retry-After": "120"})
    )
    client = RegistryClient(api.base_url, TOKEN, max_retry_seconds=20.0)
    started = time.monotonic()
    with pytest.raises(RegistryApiError) as caught:
        client.list_workspaces()
    assert caught.value.status == 429
    # Retry-After is beyond the bound: it gives up at once rather than waiting 20 s.
    assert time.monotonic() - started < 5.0
    assert len(api.received) == 1


def _read_request(conn: socket.socket) -> bytes:
    """One whole HTTP request (headers and Content-Length body) from a connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _dropping_server(answer: bytes) -> tuple[str, list[int]]:
    """A server that hangs up on its first connection without a word, then sends ``answer``
    as JSON; the URL, and the connections it took so far."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    taken: list[int] = []

    def serve() -> None:
        with listener:
            for attempt in range(2):
                conn, _ = listener.accept()
                taken.append(attempt)
                with conn:
                    _read_request(conn)
                    if attempt == 0:
                        continue
                    head = (
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(answer)}\r\nConnection: close\r\n\r\n"
                    )
                    conn.sendall(head.encode() + answer)

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", taken


def test_a_read_is_retried_after_a_dropped_connection() -> None:
    url, taken = _dropping_server(b'{"workspaces": []}')
    with RegistryClient(url, TOKEN, max_retry_seconds=5) as client:
        assert client.list_workspaces() == []
    assert taken == [0, 1]


def test_a_write_is_not_retried_after_a_dropped_connection() -> None:
    url, taken = _dropping_server(b'{"workspace_id": 3}')
    with RegistryClient(url, TOKEN, max_retry_seconds=5) as client, pytest.raises(ConnectionFailed):
        client.create_workspace("team-a")
    assert taken == [0]


def test_no_server_gives_connection_failed_within_the_bound() -> None:
    client = RegistryClient(f"http://127.0.0.1:{free_port()}", TOKEN, max_retry_seconds=0.8)
    started = time.monotonic()
    with pytest.raises(ConnectionFailed) as caught:
        client.list_workspaces()
    assert time.monotonic() - started < 2.5
    err = caught.value
    assert err.status is None
    assert str(err).startswith("workspaces/list -> no HTTP answer: could not reach")
    assert TOKEN not in repr(err)


def test_a_failed_connection_does_not_chain_the_request(api: ScriptedApi) -> None:
    client = RegistryClient(f"http://127.0.0.1:{free_port()}", TOKEN)
    with pytest.raises(ConnectionFailed) as caught:
        client.create_workspace("team-a")
    assert caught.value.__context__ is None


def test_a_redirect_is_reported_not_followed(api: ScriptedApi, client: RegistryClient) -> None:
    """A redirect means a wrong base URL (a login page, http to https): the call says so, and
    neither the call nor the token goes to the new address."""
    elsewhere = f"{api.base_url}/login?next=/v1/api/workspaces/list"
    api.respond("/v1/api/workspaces/list", (302, "", {"Location": elsewhere}))
    with pytest.raises(RegistryApiError) as caught:
        client.list_workspaces()
    assert caught.value.status == 302
    # The new address is shown without its query, which may carry anything.
    assert caught.value.message == f"redirected to {api.base_url}/login; check the base URL"
    assert [r.path for r in api.received] == ["/v1/api/workspaces/list"]


def test_a_non_json_success_is_an_error(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond("/v1/api/workspaces/list", (200, "<html>Jupyter</html>", {}))
    with pytest.raises(RegistryApiError) as caught:
        client.list_workspaces()
    assert "expected JSON" in str(caught.value)


def test_a_response_of_the_wrong_shape_is_an_error(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond("/v1/api/workspaces/create", ok({"unexpected": True}))
    with pytest.raises(RegistryApiError) as caught:
        client.create_workspace("team-a")
    assert "unexpected response shape" in str(caught.value)
