"""Hostile input found by fuzzing the service: each is answered with a 4xx whose body is
``{"msg", "code"}`` and whose message names the field, never a 500, and nothing is left
half-written."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator

import pytest
import requests

from wallaroo_registry_ui.server.connectors.base import UpstreamError
from wallaroo_registry_ui.server.connectors.http import RegistryHttp
from wallaroo_registry_ui.server.secrets import TokenCipher
from wallaroo_registry_ui.server.settings import Settings
from wallaroo_registry_ui.server.store import Registry, User, open_store

DEAD_URL = "http://127.0.0.1:9"
SURROGATE = "\ud800"
LONG_VALUE = "x" * (512 << 10)
"""Half a MiB: long enough to matter, short enough for a body (over 1 MiB is a 413)."""
MAX_MESSAGE = 2000

Build = Callable[[int, str], dict]


def error_message(reply: requests.Response, status: int = 400) -> str:
    """The contract's error body, checked; its message."""
    assert reply.status_code == status, reply.text[:500]
    body = reply.json()
    assert set(body) == {"msg", "code"}, body
    assert body["code"] == status
    assert isinstance(body["msg"], str) and len(body["msg"]) <= MAX_MESSAGE
    return body["msg"]


def bad_field(reply: requests.Response, field: str) -> str:
    msg = error_message(reply, 400)
    assert msg.startswith(f"{field}:"), msg
    return msg


def raw_post(service, token: str, call: str, data: bytes, content_type: str | None):
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    return requests.post(f"{service.url}/v1/api/{call}", data=data, headers=headers, timeout=60)


def registry_names(service, token: str) -> list[str]:
    reply = service.post(token, "models/list_registries", {})
    assert reply.status_code == 200, reply.text
    return [r["name"] for r in reply.json()]


@pytest.fixture(scope="module")
def hostile_workspace(registry_service, alice) -> int:
    """Alice's workspace for these tests, so the shared team workspace keeps its registries."""
    body = {"workspace_name": "hostile-input"}
    reply = registry_service.post(alice.token, "workspaces/create", body)
    assert reply.status_code == 200, reply.text
    return reply.json()["workspace_id"]


@pytest.fixture(scope="module")
def dead_registries(registry_service, alice, hostile_workspace) -> dict[str, str]:
    """An MLflow and a Databricks registry on a port nothing listens on, in that workspace."""
    ids = {}
    for kind in ("mlflow", "databricks"):
        body = {
            "name": f"hostile dead {kind}",
            "url": DEAD_URL,
            "kind": kind,
            "workspace_id": hostile_workspace,
        }
        reply = registry_service.post(alice.token, "models/create_registry", body)
        assert reply.status_code == 200, reply.text
        ids[kind] = reply.json()["id"]
    return ids


def upload_body(workspace: int, registry: str, **changes: object) -> dict:
    body = {
        "registry_id": registry,
        "name": "hostile",
        "path": "mlflow-artifacts:/x/model.pkl",
        "visibility": "private",
        "workspace_id": workspace,
        "conversion": {"framework": "sklearn", "requirements": []},
    }
    return body | changes


SURROGATE_CASES: list[tuple[str, Build, str]] = [
    ("workspaces/create", lambda ws, reg: {"workspace_name": f"t{SURROGATE}"}, "workspace_name"),
    (
        "workspaces/add_user",
        lambda ws, reg: {"workspace_id": ws, "email": f"a{SURROGATE}@example.com"},
        "email",
    ),
    ("models/create_registry", lambda ws, reg: {"name": SURROGATE, "url": DEAD_URL}, "name"),
    ("models/list", lambda ws, reg: {"workspace_name": SURROGATE}, "workspace_name"),
    (
        "models/list_registry_models",
        lambda ws, reg: {"registry_id": reg, "filter": SURROGATE},
        "filter",
    ),
    (
        "models/list_registry_models",
        lambda ws, reg: {"registry_id": reg, "page_token": SURROGATE},
        "page_token",
    ),
    (
        "models/list_registry_models",
        lambda ws, reg: {"registry_id": reg, "order_by": ["name", SURROGATE]},
        "order_by.1",
    ),
    (
        "models/list_registry_model_versions",
        lambda ws, reg: {"registry_id": reg, "model_name": SURROGATE},
        "model_name",
    ),
    (
        "models/list_registry_model_version_artifacts",
        lambda ws, reg: {"registry_id": reg, "name": "m", "version": SURROGATE},
        "version",
    ),
    (
        "models/preview_registry_artifact",
        lambda ws, reg: {"registry_id": reg, "name": SURROGATE, "version": "1", "path": "a"},
        "name",
    ),
    (
        "models/upload_from_registry",
        lambda ws, reg: upload_body(ws, reg, path=f"mlflow-artifacts:/{SURROGATE}"),
        "path",
    ),
    (
        "models/upload_from_registry",
        lambda ws, reg: upload_body(
            ws, reg, conversion={"framework": "sklearn", "requirements": [SURROGATE]}
        ),
        "conversion.requirements",
    ),
]


@pytest.mark.parametrize(
    "call, build, field", SURROGATE_CASES, ids=[f"{c[0]}-{c[2]}" for c in SURROGATE_CASES]
)
def test_unpaired_surrogates_are_bad_input(
    registry_service, alice, hostile_workspace, dead_registries, call, build, field
):
    """JSON's ``"\\ud800"`` decodes to a string no database or HTTP request can encode."""
    before = registry_names(registry_service, alice.token)
    reply = registry_service.post(
        alice.token, call, build(hostile_workspace, dead_registries["mlflow"])
    )
    assert "Unicode" in bad_field(reply, field)
    assert registry_names(registry_service, alice.token) == before


@pytest.mark.parametrize(
    "token",
    ["abc\ndef", "abc\r\nX-Injected: 1", "tøkén-✓", "café", "two words", "a\x7fb", "t" * 20000],
    ids=["newline", "crlf", "non-latin1", "latin1", "space", "del", "overlong"],
)
def test_a_registry_token_must_fit_an_http_header(registry_service, alice, token):
    """Such a token used to be stored, then failed every later call to the registry."""
    before = registry_names(registry_service, alice.token)
    body = {"name": "hostile token", "url": DEAD_URL, "token": token}
    bad_field(registry_service.post(alice.token, "models/create_registry", body), "token")
    assert registry_names(registry_service, alice.token) == before


def test_a_pasted_token_loses_its_surrounding_blanks(registry_service, alice):
    body = {"name": "hostile pasted", "url": DEAD_URL, "token": "  dapi-pasted-0123456789\n"}
    created = registry_service.post(alice.token, "models/create_registry", body)
    assert created.status_code == 200, created.text
    registry = {"registry_id": created.json()["id"]}
    got = registry_service.post(alice.token, "models/get_registry", registry).json()
    assert got["token"] == "dapi****89"
    listing = registry_service.post(alice.token, "models/list_registry_models", registry)
    assert "nothing answers at 127.0.0.1:9" in error_message(listing, 502)


@pytest.mark.parametrize(
    "url, hint",
    [
        ("http://[::1:9", "valid URL"),
        ("http://a b:9", "spaces"),
        (f"http://{'a' * 64}.example:9", "host name"),
        ("http://" + f"{'a' * 60}." * 5 + "com", "host name"),
        ("http://-leading.example", "host name"),
        ("http://127.0.0.1:0", "port"),
        ("http://127.0.0.1:99999", "port"),
        ("http://127.0.0.1:9/a\nb", "control characters"),
    ],
    ids=["ipv6", "space", "label64", "host254", "hyphen", "port0", "port-range", "newline"],
)
def test_a_registry_url_the_client_cannot_request_is_refused(registry_service, alice, url, hint):
    before = registry_names(registry_service, alice.token)
    body = {"name": "hostile url", "url": url}
    reply = registry_service.post(alice.token, "models/create_registry", body)
    assert hint in bad_field(reply, "url")
    assert registry_names(registry_service, alice.token) == before


@pytest.mark.parametrize("kind", ["mlflow", "databricks"])
@pytest.mark.parametrize(
    "path, hint",
    [
        ("http://[::1", "not a valid URL"),
        ("https://[nonsense/x", "not a valid URL"),
        ("http://u:p@127.0.0.1:9/x", ""),
        ("http://other.example/x", ""),
        ("dbfs:/a/../b", ""),
        ("mlflow-artifacts:/a\\b", ""),
        ("models:/m/1/../../x", ""),
        ("mlflow-artifacts:/a\x00b", "NUL"),
        ("mlflow-artifacts:/a\nb", "control characters"),
    ],
    ids=["ipv6", "bracket", "creds", "host", "dbfs-up", "backslash", "models-up", "nul", "nl"],
)
def test_odd_upload_paths_are_refused_before_any_request(
    registry_service, alice, hostile_workspace, dead_registries, kind, path, hint
):
    body = upload_body(hostile_workspace, dead_registries[kind], path=path)
    reply = registry_service.post(alice.token, "models/upload_from_registry", body)
    assert hint in bad_field(reply, "path")


@pytest.mark.parametrize(
    "value, hint",
    [
        ("²", "integer id"),
        ("١٢", "integer id"),
        ("1" * 4400, "between 0 and"),
        ("9" * 20, "between"),
    ],
    ids=["superscript", "arabic-digits", "4400-digits", "over-max"],
)
@pytest.mark.parametrize(
    "call, field",
    [
        ("models/get", "id"),
        ("models/get_version", "model_version_id"),
        ("workspaces/list_users", "workspace_id"),
    ],
)
def test_digit_strings_that_are_not_ids(registry_service, alice, call, field, value, hint):
    """Python internals (``int()``, ``sys.set_int_max_str_digits``) stay out of messages."""
    msg = bad_field(registry_service.post(alice.token, call, {field: value}), field)
    assert hint in msg
    assert "int()" not in msg and "sys." not in msg


@pytest.mark.parametrize(
    "call, build, field",
    [
        ("workspaces/create", lambda ws, reg: {"workspace_name": "team\x01x"}, "workspace_name"),
        ("workspaces/create", lambda ws, reg: {"workspace_name": "team\nx"}, "workspace_name"),
        (
            "workspaces/add_user",
            lambda ws, reg: {"workspace_id": ws, "email": "a\tb@example.com"},
            "email",
        ),
        ("models/create_registry", lambda ws, reg: {"name": "r\x1bx", "url": DEAD_URL}, "name"),
        (
            "models/list_registry_model_versions",
            lambda ws, reg: {"registry_id": reg, "model_name": "m\x85x"},
            "model_name",
        ),
    ],
    ids=["ctrl-workspace", "newline-workspace", "tab-email", "esc-registry", "c1-model"],
)
def test_control_characters_in_names(
    registry_service, alice, hostile_workspace, dead_registries, call, build, field
):
    before = registry_names(registry_service, alice.token)
    reply = registry_service.post(
        alice.token, call, build(hostile_workspace, dead_registries["mlflow"])
    )
    assert "control characters" in bad_field(reply, field)
    assert registry_names(registry_service, alice.token) == before


def test_echoed_values_are_shortened(registry_service, alice, hostile_workspace, dead_registries):
    """A value of half a MiB used to come back whole inside the error message."""
    email = {"workspace_id": hostile_workspace, "email": f"{LONG_VALUE}@example.com"}
    error_message(registry_service.post(alice.token, "workspaces/add_user", email), 404)
    lookup = {"workspace_name": LONG_VALUE}
    error_message(registry_service.post(alice.token, "models/list", lookup), 404)
    conversion = {"framework": LONG_VALUE, "requirements": []}
    body = upload_body(hostile_workspace, dead_registries["mlflow"], conversion=conversion)
    reply = registry_service.post(alice.token, "models/upload_from_registry", body)
    assert "not a Wallaroo framework" in bad_field(reply, "conversion.framework")


@pytest.mark.parametrize(
    "data, content_type, hint",
    [
        (b'{"workspace_id": "\xff\xfe"}', "application/json", "UTF-8"),
        (b"[" * 5000 + b"]" * 5000, "application/json", "nested"),
        (b'{"workspace_id": 1' + b"0" * 5000 + b"}", "application/json", "numbers"),
        (b"", "application/json", "empty"),
        (b"", None, "empty"),
        (b'{"workspace_id": 1}', "text/plain", "application/json"),
        (b"workspace_id=1", "application/x-www-form-urlencoded", "application/json"),
    ],
    ids=["non-utf8", "deep", "5000-digits", "empty", "empty-no-type", "text-plain", "form"],
)
def test_unreadable_bodies_name_the_body(registry_service, alice, data, content_type, hint):
    reply = raw_post(registry_service, alice.token, "workspaces/list_users", data, content_type)
    assert hint in bad_field(reply, "body")


def test_unknown_calls_and_methods(registry_service, alice):
    auth = {"Authorization": f"Bearer {alice.token}"}
    api = f"{registry_service.url}/v1/api"
    unknown = requests.post(f"{api}/models/nope", json={}, headers=auth, timeout=30)
    assert "no such call POST /v1/api/models/nope" in error_message(unknown, 404)
    wrong = requests.get(f"{api}/models/get", headers=auth, timeout=30)
    assert error_message(wrong, 405).startswith("method: GET")
    assert wrong.headers.get("allow") == "POST"
    long_path = requests.post(f"{api}/{'a' * 10000}", json={}, headers=auth, timeout=30)
    error_message(long_path, 404)


@pytest.fixture
def stored_registry(registry_service, alice) -> Iterator[Callable[[str, str, str], str]]:
    """Writes a registry row straight into the store, as a database from an older release
    may hold it, and removes it afterwards."""
    settings = Settings(registry_service.data_dir.resolve(), registry_service.database_url)
    sessions = open_store(settings.database_url)
    cipher = TokenCipher.from_environment(settings.key_file)
    created: list[str] = []

    def store(name: str, url: str, token: str) -> str:
        with sessions() as session:
            user = session.query(User).filter_by(email=alice.email).one()
            row = Registry(
                name=name,
                url=url,
                kind="mlflow",
                token_encrypted=cipher.encrypt(token),
                token_masked="****",
                created_by=user.id,
            )
            session.add(row)
            session.commit()
            created.append(row.id)
            return row.id

    yield store
    with sessions() as session:
        for registry_id in created:
            session.delete(session.get(Registry, registry_id))
        session.commit()
    sessions.kw["bind"].dispose()


@pytest.mark.parametrize(
    "url, token, hint",
    [
        (DEAD_URL, "tøkén\n", "stored token"),
        (f"http://{'a' * 64}.example:9", "", "not a URL that can be requested"),
        ("http://a b:9", "", "not a URL that can be requested"),
    ],
    ids=["token", "long-label", "space"],
)
def test_a_stored_registry_the_client_cannot_call_is_a_clear_502(
    registry_service, alice, stored_registry, url, token, hint
):
    registry_id = stored_registry("hostile legacy", url, token)
    reply = registry_service.post(
        alice.token, "models/list_registry_models", {"registry_id": registry_id}
    )
    msg = error_message(reply, 502)
    assert msg.startswith("registry 'hostile legacy'") and hint in msg
    assert "tøkén" not in msg


class _BadRedirect(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "http://[::1/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_redirect_to_an_unparseable_location_is_an_upstream_error():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadRedirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        registry = RegistryHttp("redirecting", url, "tok", max_retry_seconds=1)
        with pytest.raises(UpstreamError, match="redirected to a location that is not a URL"):
            registry.get_json("api/x")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
