"""RegistryHttp's errors (connectors/http.py) under the service's egress rules: they never
repeat what a registry sent, every way a connection fails reads the same, and a redirect
reaches only what the rules allow, never with the token."""

from __future__ import annotations

import logging

import pytest
from support.listeners import Reply, backlog_full_port, listening, resetting_port
from support.local_egress import LOCAL_EGRESS

from wallaroo_registry_ui.demo.processes import free_port
from wallaroo_registry_ui.server.connection_pools import ConnectionPools
from wallaroo_registry_ui.server.connectors import (
    RegistryNotFound,
    UpstreamBroken,
    UpstreamError,
)
from wallaroo_registry_ui.server.connectors.egress import EgressPolicy
from wallaroo_registry_ui.server.connectors.http import RegistryHttp

SECRET = "INTERNAL-PLAIN-SECRET root:x:0:0 password=hunter2"
TOKEN = "registry-token-5d0c2e9f41"


def registry(url: str, rules: EgressPolicy = LOCAL_EGRESS, **options) -> RegistryHttp:
    session = ConnectionPools(rules).session_for("r", url)
    options.setdefault("max_retry_seconds", 1)
    return RegistryHttp("r", url, TOKEN, session=session, **options)


def html(title: str, status: int) -> Reply:
    page = f"<html><head><title>{title}</title></head><body>{title}</body></html>"
    return Reply(status, page.encode(), {"Content-Type": "text/html"})


def json_error(status: int, code: str, message: str) -> Reply:
    body = f'{{"error_code": "{code}", "message": "{message}"}}'
    return Reply(status, body.encode())


@pytest.mark.parametrize(
    "reply, error_class, message",
    [
        (Reply(500, SECRET.encode(), {}), UpstreamError, "answered HTTP 500: a server error"),
        (
            Reply(200, SECRET.encode(), {"Content-Type": "text/plain"}),
            UpstreamError,
            "answered HTTP 200: an answer that is not JSON",
        ),
        (html(SECRET, 200), UpstreamError, "answered HTTP 200: an answer that is not JSON"),
        (html(SECRET, 401), UpstreamError, "answered HTTP 401: the registry rejected the token"),
        (html(SECRET, 403), UpstreamError, "answered HTTP 403: access denied"),
        (
            json_error(403, "PERMISSION_DENIED", SECRET),
            UpstreamError,
            "answered HTTP 403: permission denied (PERMISSION_DENIED)",
        ),
        (
            json_error(400, "INVALID_PARAMETER_VALUE", SECRET),
            UpstreamError,
            "answered HTTP 400: it refused a value of the request (INVALID_PARAMETER_VALUE)",
        ),
        (
            json_error(404, "RESOURCE_DOES_NOT_EXIST", SECRET),
            RegistryNotFound,
            "answered HTTP 404: it does not exist (RESOURCE_DOES_NOT_EXIST)",
        ),
        (json_error(418, SECRET, SECRET), UpstreamError, "answered HTTP 418: an unexpected answer"),
        (Reply(404, SECRET.encode(), {}), RegistryNotFound, "answered HTTP 404: not found"),
    ],
    ids=[
        "500",
        "200-text",
        "200-html",
        "401",
        "403-html",
        "403-json",
        "400-json",
        "404-json",
        "unknown-code",
        "404-text",
    ],
)
def test_an_error_says_the_status_in_words_never_the_body(reply, error_class, message, caplog):
    with listening() as listener:
        listener.routes["/"] = reply
        with caplog.at_level(logging.INFO), pytest.raises(UpstreamError) as caught:
            registry(listener.url).get_json("api/2.0/mlflow/registered-models/search")
    assert type(caught.value) is error_class
    assert str(caught.value) == f"registry 'r' {message}"
    assert "hunter2" not in str(caught.value) and "SECRET" not in str(caught.value)
    assert "HTTP" in caplog.text and TOKEN not in caplog.text


def test_a_body_echoing_the_token_is_logged_masked(caplog):
    with listening() as listener:
        listener.routes["/"] = Reply(500, f"bad token {TOKEN}".encode(), {})
        with caplog.at_level(logging.INFO), pytest.raises(UpstreamError):
            registry(listener.url).get_json("api/x")
    assert "bad token ****" in caplog.text and TOKEN not in caplog.text


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_every_way_a_connection_fails_reads_the_same(caplog):
    """Refused, reset, a name that does not resolve, a connect timeout: one message, one
    class, so the service cannot be used to tell an open port from a closed one."""
    messages = {}
    with resetting_port() as reset, backlog_full_port() as full:
        urls = {
            "refused": _closed_port_url(),
            "reset": f"http://127.0.0.1:{reset}",
            "dns": "http://nothing-here.invalid:8080",
            "timeout": f"http://127.0.0.1:{full}",
        }
        for case, url in urls.items():
            with caplog.at_level(logging.INFO), pytest.raises(UpstreamError) as caught:
                registry(url, connect_timeout=0.3).get_json("api/x")
            assert type(caught.value) is UpstreamBroken, case
            where = url.removeprefix("http://")
            messages[case] = str(caught.value).replace(where, "HOST:PORT")
    assert set(messages.values()) == {"registry 'r': nothing answers at HOST:PORT"}
    assert "connection refused" in caplog.text


def test_a_redirect_to_a_refused_address_reaches_nothing():
    with listening() as allowed, listening("127.0.0.2") as refused:
        allowed.redirect("/", f"{refused.url}/latest/meta-data")
        with pytest.raises(UpstreamError) as caught:
            registry(allowed.url).get_json("api/x")
        assert refused.accepted == 0
    assert type(caught.value) is UpstreamError
    assert str(caught.value) == (
        "registry 'r': redirected to an address the service may not connect to"
    )


def test_a_registry_whose_own_address_became_refused_says_how_to_allow_it():
    with listening() as listener:
        with pytest.raises(UpstreamError) as caught:
            registry(listener.url, EgressPolicy()).get_json("api/x")
        assert listener.accepted == 0
    assert str(caught.value) == (
        "registry 'r': the service may not connect to it: 127.0.0.1 is a loopback address; "
        "the service's operator may allow it with `serve --allow-registry-host 127.0.0.1`"
    )


def test_a_cross_origin_redirect_to_an_allowed_address_carries_no_token():
    with listening() as origin, listening() as elsewhere:
        origin.redirect("/", f"{elsewhere.url}/file")
        assert registry(origin.url).get_json("api/x") == {}
    assert origin.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Authorization" not in elsewhere.seen[0].headers


def test_a_redirect_to_an_unparseable_location_does_not_repeat_it():
    with listening() as listener:
        listener.redirect("/", f"http://{'a' * 70}.example/{SECRET}")
        with pytest.raises(UpstreamError) as caught:
            registry(listener.url).get_json("api/x")
    assert "a" * 70 not in str(caught.value) and "hunter2" not in str(caught.value)
    assert "redirected to a location that is not a URL" in str(caught.value)
