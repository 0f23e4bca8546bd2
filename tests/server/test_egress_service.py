"""Where a real ``serve`` may connect: a listener on 127.0.0.1 that the service is not
allowed to reach receives nothing, whatever the call, the spelling of its address or the
redirect; what a registry sends never comes back in an answer or an upload's error."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support.listeners import Listener, Reply, listening, resetting_port
from support.upload_api import UploadApi, upload_body

from wallaroo_registry_ui.demo.processes import free_port
from wallaroo_registry_ui.demo.registry_service import (
    CLI,
    LOCAL_REGISTRY_HOSTS,
    RegistryService,
    start_registry_service,
)
from wallaroo_registry_ui.server.settings import resolve_settings, settings_environment

SECRET = "INTERNAL-PLAIN-SECRET password=hunter2"
FILE_PATH = "/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/model.pkl"
UPLOAD_SECONDS = 30


@dataclass
class Refusing:
    """A service restarted without the allow it had when a registry was saved."""

    service: RegistryService
    api: UploadApi
    workspace_id: int
    registry_id: str
    target: Listener


@pytest.fixture(scope="module")
def refusing(tmp_path_factory) -> Iterator[Refusing]:
    with listening() as target:
        data_dir = tmp_path_factory.mktemp("egress-refusing")
        allowing = start_registry_service(data_dir, allow_registry_hosts=LOCAL_REGISTRY_HOSTS)
        try:
            api = UploadApi(allowing.url, allowing.add_user("mallory@example.com"))
            workspace = api.ok("workspaces/create", {"workspace_name": "egress"})["workspace_id"]
            registry = api.connect_registry("internal", target.url, "tok-1234567", workspace)
        finally:
            allowing.stop()
        service = allowing.restart(allow_registry_hosts=())
        try:
            api.url = service.url
            yield Refusing(service, api, workspace, registry, target)
        finally:
            api.close()
            service.stop()


def msg(reply, status: int) -> str:
    assert reply.status_code == status, reply.text
    return reply.json()["msg"]


FORMS = [
    "127.0.0.1",
    "localhost",
    "2130706433",
    "0x7f000001",
    "127.1",
    "[::ffff:127.0.0.1]",
    "0.0.0.0",
]


@pytest.mark.parametrize("host", FORMS)
def test_create_registry_refuses_a_loopback_url_in_every_spelling(refusing, host):
    url = f"http://{host}:{refusing.target.port}/plain"
    body = {"name": "plain", "url": url, "workspace_id": refusing.workspace_id}
    problem = msg(refusing.api.post("models/create_registry", body), 400)
    assert problem.startswith(f"url: {host.strip('[]')} ")
    assert "address; the service's operator may allow it with `serve --allow-registry-host " in (
        problem
    )
    assert refusing.target.accepted == 0


@pytest.mark.parametrize(
    "host, words",
    [("[::1]", "::1 is a loopback address"), ("169.254.169.254", "is a link-local address")],
)
def test_create_registry_refuses_ipv6_loopback_and_cloud_metadata(refusing, host, words):
    body = {"name": "meta", "url": f"http://{host}/latest/meta-data"}
    assert words in msg(refusing.api.post("models/create_registry", body), 400)


def test_a_name_that_does_not_resolve_is_saved_and_unreachable(refusing):
    body = {"name": "later", "url": "http://registry-to-come.invalid:5000"}
    created = refusing.api.ok("models/create_registry", body)
    reply = refusing.api.post("models/list_registry_models", {"registry_id": created["id"]})
    assert msg(reply, 502) == ("registry 'later': nothing answers at registry-to-come.invalid:5000")


def test_a_saved_registry_that_became_refused_is_never_reached(refusing):
    api, registry = refusing.api, {"registry_id": refusing.registry_id}
    refused = (
        "registry 'internal': the service may not connect to it: 127.0.0.1 is a loopback "
        "address; the service's operator may allow it with `serve --allow-registry-host "
        "127.0.0.1`"
    )
    assert msg(api.post("models/list_registry_models", registry), 502) == refused
    versions = {**registry, "model_name": "m"}
    assert msg(api.post("models/list_registry_model_versions", versions), 502) == refused
    version = {**registry, "name": "m", "version": "1"}
    assert msg(api.post("models/list_registry_model_version_artifacts", version), 502) == refused
    preview = {**version, "path": "MLmodel"}
    assert msg(api.post("models/preview_registry_artifact", preview), 502) == refused
    path = f"{refusing.target.url}{FILE_PATH}"
    version_id = api.start(refusing.registry_id, refusing.workspace_id, path, "stolen")
    failed = api.wait_ended(version_id, UPLOAD_SECONDS)
    assert failed["status"] == "error" and failed["error"].startswith(refused)
    assert refusing.target.accepted == 0


@pytest.fixture
def allowed_api(registry_service, alice) -> Iterator[UploadApi]:
    with UploadApi(registry_service.url, alice.token) as api:
        yield api


def _connect(api: UploadApi, workspace: int, listener: Listener, name: str) -> str:
    return api.connect_registry(name, listener.url, "egress-token-77aa", workspace)


def test_a_redirect_to_a_refused_listener_reaches_nothing(allowed_api, team_workspace):
    """127.0.0.1 is allowed, 127.0.0.2 (loopback too) is not: a 302 there is the registry
    failing, for a listing, a preview and an upload alike."""
    with listening() as allowed, listening("127.0.0.2") as refused:
        allowed.redirect("/", f"{refused.url}/latest/meta-data")
        registry_id = _connect(allowed_api, team_workspace, allowed, "redirecting")
        redirected = (
            "registry 'redirecting': redirected to an address the service may not connect to"
        )
        listing = allowed_api.post("models/list_registry_models", {"registry_id": registry_id})
        assert msg(listing, 502) == redirected
        preview = {"registry_id": registry_id, "name": "m", "version": "1", "path": "MLmodel"}
        assert msg(allowed_api.post("models/preview_registry_artifact", preview), 502) == (
            redirected
        )
        path = f"{allowed.url}{FILE_PATH}"
        version_id = allowed_api.start(registry_id, team_workspace, path, "redirected-file")
        failed = allowed_api.wait_ended(version_id, UPLOAD_SECONDS)
        assert failed["status"] == "error" and failed["error"].startswith(redirected)
        assert refused.accepted == 0 and len(allowed.seen) >= 3


def test_a_cross_origin_redirect_to_an_allowed_listener_carries_no_token(
    allowed_api, team_workspace
):
    with listening() as origin, listening() as elsewhere:
        origin.redirect("/", f"{elsewhere.url}/search")
        registry_id = _connect(allowed_api, team_workspace, origin, "hopping")
        allowed_api.post("models/list_registry_models", {"registry_id": registry_id})
        assert origin.seen[0].headers["Authorization"] == "Bearer egress-token-77aa"
        assert elsewhere.seen and "Authorization" not in elsewhere.seen[0].headers


def test_a_closed_port_a_reset_and_an_unknown_name_read_the_same(allowed_api, team_workspace):
    """Told apart, they would make the service a port scanner of its network."""
    with resetting_port() as reset:
        urls = [
            f"http://127.0.0.1:{free_port()}",
            f"http://127.0.0.1:{reset}",
            "http://no-registry-here.invalid:8080",
        ]
        said = set()
        for url in urls:
            body = {"name": "probe", "url": url, "workspace_id": team_workspace}
            registry_id = allowed_api.ok("models/create_registry", body)["id"]
            reply = allowed_api.post("models/list_registry_models", {"registry_id": registry_id})
            said.add(msg(reply, 502).replace(url.removeprefix("http://"), "HOST:PORT"))
    assert said == {"registry 'probe': nothing answers at HOST:PORT"}


@pytest.mark.parametrize(
    "reply, words",
    [
        (Reply(500, SECRET.encode(), {}), "answered HTTP 500: a server error"),
        (Reply(200, SECRET.encode(), {"Content-Type": "text/plain"}), "not JSON"),
        (
            Reply(200, f"<html><title>{SECRET}</title></html>".encode(), {}),
            "not JSON",
        ),
        (
            Reply(400, f'{{"error_code": "BAD_REQUEST", "message": "{SECRET}"}}'.encode()),
            "answered HTTP 400: it refused the request (BAD_REQUEST)",
        ),
    ],
    ids=["500", "200-text", "200-html", "400-json"],
)
def test_what_a_registry_sends_never_comes_back(allowed_api, team_workspace, reply, words):
    with listening() as listener:
        listener.routes["/"] = reply
        registry_id = _connect(allowed_api, team_workspace, listener, "chatty")
        calls = {
            "models/list_registry_models": {"registry_id": registry_id},
            "models/list_registry_model_versions": {"registry_id": registry_id, "name": "m"},
            "models/preview_registry_artifact": {
                "registry_id": registry_id,
                "name": "m",
                "version": "1",
                "path": "MLmodel",
            },
        }
        for call, body in calls.items():
            answer = allowed_api.post(call, body)
            assert answer.status_code in (400, 502), (call, answer.text)
            assert "hunter2" not in answer.text and "SECRET" not in answer.text
            assert words in answer.json()["msg"], (call, answer.text)


def test_an_upload_error_never_repeats_the_registry(allowed_api, team_workspace):
    with listening() as listener:
        page = f"<html><title>{SECRET}</title><body>{SECRET}</body></html>".encode()
        listener.routes["/"] = Reply(403, page, {"Content-Type": "text/html"})
        registry_id = _connect(allowed_api, team_workspace, listener, "forbidding")
        body = upload_body(registry_id, team_workspace, f"{listener.url}{FILE_PATH}", "secret")
        version_id = allowed_api.ok("models/upload_from_registry", body)["model_id"]
        failed = allowed_api.wait_ended(version_id, UPLOAD_SECONDS)
    assert failed["status"] == "error"
    assert failed["error"].startswith("registry 'forbidding' answered HTTP 403: access denied")
    assert "hunter2" not in str(failed) and "SECRET" not in str(failed)


@pytest.fixture(scope="module")
def restricted(tmp_path_factory) -> Iterator[UploadApi]:
    service = start_registry_service(
        tmp_path_factory.mktemp("egress-restricted"),
        allow_registry_hosts=["127.0.0.0/8"],
        extra_args=["--registry-hosts", "127.0.0.1", "--registry-hosts", "mlflow.internal"],
    )
    try:
        with UploadApi(service.url, service.add_user("ops@example.com")) as api:
            yield api
    finally:
        service.stop()


def test_registry_hosts_allow_only_what_they_list(restricted):
    with listening() as listed, listening("127.0.0.2") as unlisted:
        body = {"name": "unlisted", "url": unlisted.url}
        assert msg(restricted.post("models/create_registry", body), 400) == (
            "url: 127.0.0.2 is not one of the registry hosts this service may connect to; "
            "the service's operator lists those with `serve --registry-hosts`"
        )
        created = restricted.ok("models/create_registry", {"name": "listed", "url": listed.url})
        listing = restricted.ok("models/list_registry_models", {"registry_id": created["id"]})
        assert listing["registered_models"] == [] and listed.accepted == 1
        assert unlisted.accepted == 0


def test_every_worker_of_serve_keeps_the_rules(tmp_path):
    """``--workers 2``: each process builds its rules from the environment ``serve`` set."""
    service = start_registry_service(
        tmp_path / "workers",
        extra_args=["--workers", "2"],
        allow_registry_hosts=LOCAL_REGISTRY_HOSTS,
    )
    token = service.add_user("w@example.com")
    try:
        with listening() as allowed, listening("127.0.0.2") as refused:
            for attempt in range(6):  # a new connection each time, to either process
                body = {"name": f"refused {attempt}", "url": refused.url}
                reply = service.post(token, "models/create_registry", body)
                assert "127.0.0.2 is a loopback address" in msg(reply, 400)
                body = {"name": f"ok {attempt}", "url": allowed.url}
                created = service.post(token, "models/create_registry", body).json()
                listing = {"registry_id": created["id"]}
                assert service.post(token, "models/list_registry_models", listing).ok
            assert refused.accepted == 0 and len(allowed.seen) == 6
    finally:
        service.stop()


@pytest.mark.parametrize(
    "args, env, named",
    [
        (["--allow-registry-host", "not a host"], {}, "--allow-registry-host"),
        (["--registry-hosts", "10.0.0.0/40"], {}, "--registry-hosts"),
        ([], {"WALLAROO_REGISTRY_ALLOW_HOSTS": "ok.example,a b"}, "WALLAROO_REGISTRY_ALLOW_HOSTS"),
    ],
)
def test_serve_refuses_a_bad_host_rule_naming_the_flag(tmp_path, args, env, named):
    done = subprocess.run(
        [*CLI, "serve", "--data-dir", str(tmp_path), "--port", "1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and named in done.stderr
    assert "host name, an IP address or a CIDR" in done.stderr


def test_the_egress_settings_reach_every_worker(tmp_path):
    settings = resolve_settings(
        str(tmp_path),
        environ={},
        allow_registry_hosts=["127.0.0.1", "10.0.0.0/8"],
        registry_hosts=["mlflow.internal"],
        listen_host="10.1.2.3",
    )
    assert resolve_settings(environ=settings_environment(settings)) == settings
    env = {"WALLAROO_REGISTRY_ALLOW_HOSTS": " 127.0.0.1 , ,::1", "WALLAROO_REGISTRY_HOSTS": ""}
    from_env = resolve_settings(str(tmp_path), environ=env).egress
    assert (from_env.allow_hosts, from_env.registry_hosts) == (("127.0.0.1", "::1"), ())
    flags_win = resolve_settings(str(tmp_path), environ=env, allow_registry_hosts=["::1"])
    assert flags_win.egress.allow_hosts == ("::1",)
