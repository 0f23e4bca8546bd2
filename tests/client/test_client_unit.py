"""RegistryClient against a small real HTTP server on 127.0.0.1: shapes, retries, errors, frames."""

from __future__ import annotations

import base64
import email.utils
import json
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from wallaroo_registry_ui.client import RegistryClient, frames
from wallaroo_registry_ui.client.errors import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    RegistryApiError,
    ServerError,
    Unauthorized,
    UpstreamFailed,
    UpstreamTimedOut,
)
from wallaroo_registry_ui.client.records import (
    Artifact,
    ModelVersion,
    ModelVersionPage,
    RegisteredModel,
    Registry,
    UploadedModel,
    Workspace,
    WorkspaceRef,
)
from wallaroo_registry_ui.demo.processes import free_port

TOKEN = "tok-SECRET-4f9a1c77e2"
REGISTRY_ID = "98f9ca1d-c4e7-4d70-8df4-05c25a64be29"

Reply = tuple[int, Any, dict[str, str]]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ScriptedApi:
    """Answers each path from a script; the last scripted answer repeats."""

    base_url: str = ""
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, list[Reply | Callable[[Any], Reply]]] = field(default_factory=dict)

    def respond(self, path: str, *replies: Reply | Callable[[Any], Reply]) -> None:
        self.scripts[path] = list(replies)

    def next_reply(self, path: str, body: Any) -> Reply:
        script = self.scripts.get(path)
        if not script:
            return 404, {"msg": f"nothing scripted for {path}", "code": 404}, {}
        reply = script.pop(0) if len(script) > 1 else script[0]
        return reply(body) if callable(reply) else reply

    def calls(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def ok(payload: Any) -> Reply:
    return 200, payload, {}


def _handler_for(api: ScriptedApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            api.received.append(Received(self.command, self.path, dict(self.headers), body))
            status, payload, headers = api.next_reply(self.path, body)
            if isinstance(payload, str | bytes):
                data = payload.encode() if isinstance(payload, str) else payload
                headers = {"Content-Type": "text/html; charset=utf-8", **headers}
            else:
                data = json.dumps(payload).encode()
                headers = {"Content-Type": "application/json", **headers}
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    scripted = ScriptedApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(scripted))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    scripted.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield scripted
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client(api: ScriptedApi) -> Iterator[RegistryClient]:
    with RegistryClient(api.base_url, TOKEN, max_retry_seconds=5) as registry_client:
        yield registry_client


# ---- request shapes ----------------------------------------------------------------------------

VERSION = {
    "name": "wine_quality",
    "version": "2",
    "description": "",
    "status": "READY",
    "run_id": "r1",
    "run_link": "",
    "source": "models:/wine_quality/2",
    "current_stage": "Production",
    "creation_timestamp": 1686942576120,
    "last_updated_timestamp": 1686942597646,
    "aliases": ["champion"],
    "tags": [{"key": "team", "value": "ml"}],
}
MVC = {
    "model_version": {
        "id": 7,
        "name": "wine-quality",
        "status": "ready",
        "visibility": "private",
        "workspace_id": 3,
        "file_info": {"file_name": "model.pkl", "sha": "ab" * 32, "size": 1234, "version": "u-1"},
        "conversion": {"framework": "sklearn", "python_version": "3.8", "requirements": ["x"]},
        "created_at": "2026-01-02T03:04:05+00:00",
        "created_by": "me@example.com",
        "source": {
            "registry_id": REGISTRY_ID,
            "model_name": "wine_quality",
            "version": "2",
            "path": "/model.pkl",
        },
    },
    "config": {"id": 1, "model_version_id": 7, "runtime": "flight"},
}

SHAPES = [
    pytest.param(
        lambda c: c.create_workspace("team-a"),
        "workspaces/create",
        {"workspace_name": "team-a"},
        {"workspace_id": 3},
        3,
        id="create_workspace",
    ),
    pytest.param(
        lambda c: c.add_user(3, "bob@example.com"),
        "workspaces/add_user",
        {"workspace_id": 3, "email": "bob@example.com"},
        {},
        None,
        id="add_user",
    ),
    pytest.param(
        lambda c: c.remove_user(3, "bob@example.com"),
        "workspaces/remove_user",
        {"workspace_id": 3, "email": "bob@example.com"},
        {"affected_rows": 1},
        1,
        id="remove_user",
    ),
    pytest.param(
        lambda c: [u.user_type for u in c.list_users(3)],
        "workspaces/list_users",
        {"workspace_id": 3},
        {"users": [{"user_id": "u1", "email": "a@x", "user_type": "owner"}]},
        ["owner"],
        id="list_users",
    ),
    pytest.param(
        lambda c: c.list_workspaces(),
        "workspaces/list",
        {},
        {
            "workspaces": [
                {
                    "id": 3,
                    "name": "team-a",
                    "created_at": "2026-01-01T00:00:00+00:00",
                    "created_by": "u1",
                    "archived": False,
                    "models": [1, 2],
                    "pipelines": [],
                }
            ]
        },
        [Workspace(3, "team-a", "2026-01-01T00:00:00+00:00", "u1", False, [1, 2], [])],
        id="list_workspaces",
    ),
    pytest.param(
        lambda c: c.create_registry("reg", "https://adb-1.azuredatabricks.net", "dapiXYZ", 3),
        "models/create_registry",
        {
            "name": "reg",
            "url": "https://adb-1.azuredatabricks.net",
            "token": "dapiXYZ",
            "workspace_id": 3,
        },
        {"id": REGISTRY_ID, "workspace_id": 3},
        REGISTRY_ID,
        id="create_registry",
    ),
    pytest.param(
        lambda c: c.create_registry("reg", "http://127.0.0.1:5000", kind="mlflow"),
        "models/create_registry",
        {"name": "reg", "url": "http://127.0.0.1:5000", "token": "", "kind": "mlflow"},
        {"id": REGISTRY_ID},
        REGISTRY_ID,
        id="create_registry_without_workspace",
    ),
    pytest.param(
        lambda c: c.attach_registry(REGISTRY_ID, 3),
        "models/attach_registry_to_workspace",
        {"registry_id": REGISTRY_ID, "workspace_id": 3},
        {"id": "x", "registry_id": REGISTRY_ID, "workspace_id": 3},
        None,
        id="attach_registry",
    ),
    pytest.param(
        lambda c: c.detach_registry(REGISTRY_ID, 3),
        "models/remove_registry_from_workspace",
        {"registry_id": REGISTRY_ID, "workspace_id": 3},
        {"id": "x", "registry_id": REGISTRY_ID, "workspace_id": 3},
        None,
        id="detach_registry",
    ),
    pytest.param(
        lambda c: c.get_registry(REGISTRY_ID),
        "models/get_registry",
        {"registry_id": REGISTRY_ID},
        {
            "id": REGISTRY_ID,
            "name": "reg",
            "url": "https://adb-1.azuredatabricks.net",
            "token": "dapi****-3",
            "kind": "databricks",
            "created_at": "2023-06-23T15:37:38.38427+00:00",
            "updated_at": "2023-06-23T15:37:38.38427+00:00",
            "workspaces": [{"id": 3, "name": "team-a"}],
        },
        Registry(
            id=REGISTRY_ID,
            name="reg",
            url="https://adb-1.azuredatabricks.net",
            kind="databricks",
            token_hint="dapi****-3",
            created_at="2023-06-23T15:37:38.38427+00:00",
            updated_at="2023-06-23T15:37:38.38427+00:00",
            workspaces=[WorkspaceRef(3, "team-a")],
        ),
        id="get_registry",
    ),
    pytest.param(
        lambda c: [(r.id, r.token_hint) for r in c.list_registries(3)],
        "models/list_registries",
        {"workspace_id": 3},
        [
            {
                "id": REGISTRY_ID,
                "name": "r",
                "url": "u",
                "token": "plain-token-value",
                "created_at": None,
            }
        ],
        [(REGISTRY_ID, "plai****ue")],
        id="list_registries_masks_a_plain_token",
    ),
    pytest.param(
        lambda c: [(r.name, [w["id"] for w in r.workspaces]) for r in c.list_registries()],
        "models/list_registries",
        {},
        [{"id": REGISTRY_ID, "name": "r", "url": "u", "token": "", "workspaces": [{"id": 4}]}],
        [("r", [4])],
        id="list_registries_everywhere",
    ),
    pytest.param(
        lambda c: (
            c.list_registry_models(
                REGISTRY_ID,
                page_token="p2",
                max_results=50,
                filter="name LIKE '%w%'",
                order_by="name ASC",
            ).next_page_token
        ),
        "models/list_registry_models",
        {
            "registry_id": REGISTRY_ID,
            "page_token": "p2",
            "max_results": 50,
            "filter": "name LIKE '%w%'",
            "order_by": ["name ASC"],
        },
        {"registered_models": [], "next_page_token": "p3"},
        "p3",
        id="list_registry_models",
    ),
    pytest.param(
        lambda c: c.list_model_versions(REGISTRY_ID, "wine_quality").model_versions,
        "models/list_registry_model_versions",
        {"registry_id": REGISTRY_ID, "model_name": "wine_quality", "extended": True},
        {"model_versions": [VERSION], "next_page_token": None},
        [
            ModelVersion(
                name="wine_quality",
                version="2",
                status="READY",
                run_id="r1",
                source="models:/wine_quality/2",
                current_stage="Production",
                creation_timestamp=1686942576120,
                last_updated_timestamp=1686942597646,
                aliases=["champion"],
                tags={"team": "ml"},
            )
        ],
        id="list_model_versions",
    ),
    pytest.param(
        lambda c: c.list_model_versions(REGISTRY_ID, "m", max_results=5, extended=False),
        "models/list_registry_model_versions",
        {"registry_id": REGISTRY_ID, "model_name": "m", "max_results": 5},
        {"model_versions": []},
        ModelVersionPage([], None),
        id="list_model_versions_not_extended",
    ),
    pytest.param(
        lambda c: c.list_artifacts(REGISTRY_ID, "wine_quality", 2),
        "models/list_registry_model_version_artifacts",
        {"registry_id": REGISTRY_ID, "name": "wine_quality", "version": "2"},
        [
            {
                "file_size": 156456,
                "full_path": "https://adb-1.net/api/2.0/dbfs/read?path=/m/model.pkl",
                "is_dir": False,
                "modification_time": 1686942597646,
                "path": "/m/model.pkl",
            }
        ],
        [
            Artifact(
                path="/m/model.pkl",
                full_path="https://adb-1.net/api/2.0/dbfs/read?path=/m/model.pkl",
                relative_path="m/model.pkl",
                is_dir=False,
                file_size=156456,
                modification_time=1686942597646,
            )
        ],
        id="list_artifacts",
    ),
    pytest.param(
        lambda c: c.get_model(5)["name"],
        "models/get",
        {"id": 5},
        {"id": 5, "name": "wine-quality", "models": []},
        "wine-quality",
        id="get_model",
    ),
    pytest.param(
        lambda c: (c.get_model_version(7).status, c.get_model_version(7).source_model_name),
        "models/get_version",
        {"model_version_id": 7},
        MVC,
        ("ready", "wine_quality"),
        id="get_model_version",
    ),
]


@pytest.mark.parametrize(("invoke", "path", "body", "answer", "expected"), SHAPES)
def test_each_call_sends_the_contract_shape(
    api: ScriptedApi,
    client: RegistryClient,
    invoke: Callable[[RegistryClient], Any],
    path: str,
    body: Any,
    answer: Any,
    expected: Any,
) -> None:
    api.respond(f"/v1/api/{path}", ok(answer))
    assert invoke(client) == expected
    sent = api.calls(f"/v1/api/{path}")[0]
    assert sent.method == "POST"
    assert sent.body == body
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Content-Type"] == "application/json"


def test_config_is_a_get(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond("/v1/api/config", ok({"default_arch": "x86", "version": "0.1.0"}))
    assert client.config() == {"default_arch": "x86", "version": "0.1.0"}
    assert api.received[0].method == "GET"


def test_upload_sends_schemas_top_level_and_provenance(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond("/v1/api/models/upload_from_registry", ok({"model_id": 34}))
    schema = pa.schema([pa.field("inputs", pa.list_(pa.float64()))])
    encoded = base64.b64encode(schema.serialize().to_pybytes()).decode()
    model_id = client.upload_from_registry(
        REGISTRY_ID,
        name="wine-quality",
        path="https://adb-1.net/api/2.0/dbfs/read?path=/m/model.pkl",
        workspace_id=3,
        framework="sklearn",
        requirements=["scikit-learn==1.4"],
        input_schema=schema,
        output_schema="already-b64",
        python_version="3.9",
        model_name="wine_quality",
        model_version=2,
    )
    assert model_id == 34
    assert api.received[0].body == {
        "registry_id": REGISTRY_ID,
        "name": "wine-quality",
        "path": "https://adb-1.net/api/2.0/dbfs/read?path=/m/model.pkl",
        "visibility": "private",
        "workspace_id": 3,
        "conversion": {
            "framework": "sklearn",
            "requirements": ["scikit-learn==1.4"],
            "python_version": "3.9",
        },
        "input_schema": encoded,
        "output_schema": "already-b64",
        "model_name": "wine_quality",
        "model_version": "2",
    }


def test_upload_without_optionals_sends_what_the_sdk_sends(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond("/v1/api/models/upload_from_registry", ok({"model_id": 1}))
    client.upload_from_registry(
        REGISTRY_ID, name="m", path="dbfs:/m.pkl", workspace_id=1, framework="onnx"
    )
    body = api.received[0].body
    assert body["conversion"] == {"framework": "onnx", "requirements": []}
    assert set(body) == {"registry_id", "name", "path", "visibility", "workspace_id", "conversion"}


def test_a_bad_name_is_refused_before_any_request(api: ScriptedApi, client: RegistryClient) -> None:
    with pytest.raises(BadRequest) as caught:
        client.upload_from_registry(
            REGISTRY_ID, name="wine_quality", path="dbfs:/m", workspace_id=1, framework="sklearn"
        )
    err = caught.value
    assert err.status is None
    assert err.field == "name"
    assert err.call == "models/upload_from_registry"
    assert "name 'wine_quality'" in str(err)
    assert "wine-quality" in str(err)
    assert api.received == []


def test_an_unknown_framework_is_refused_before_any_request(
    api: ScriptedApi, client: RegistryClient
) -> None:
    with pytest.raises(BadRequest) as caught:
        client.upload_from_registry(
            REGISTRY_ID, name="ok", path="dbfs:/m", workspace_id=1, framework="scikit"
        )
    assert caught.value.field == "framework"
    assert api.received == []


def test_list_models_flattens_to_one_record_per_version(
    api: ScriptedApi, client: RegistryClient
) -> None:
    second = json.loads(json.dumps(MVC))
    second["model_version"]["id"] = 8
    api.respond(
        "/v1/api/models/list",
        ok(
            {
                "models": [
                    {
                        "model": {"id": 5, "name": "wine-quality", "workspace_id": 3},
                        "model_versions": [MVC, second],
                        "workspace": {"id": 3, "name": "team-a"},
                    }
                ]
            }
        ),
    )
    records = client.list_models(3)
    assert api.received[0].body == {"workspace_id": 3}
    assert [r.version_id for r in records] == [7, 8]
    first = records[0]
    assert isinstance(first, UploadedModel)
    assert (first.model_id, first.name, first.workspace_id, first.workspace_name) == (
        5,
        "wine-quality",
        3,
        "team-a",
    )
    assert (first.sha, first.file_name, first.size, first.framework) == (
        "ab" * 32,
        "model.pkl",
        1234,
        "sklearn",
    )
    assert (first.source_registry_id, first.source_version, first.source_path) == (
        REGISTRY_ID,
        "2",
        "/model.pkl",
    )
    client.list_models()
    assert api.received[1].body == {}


def test_registered_model_fields_default_when_left_out(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond(
        "/v1/api/models/list_registry_models",
        ok(
            {
                "registered_models": [
                    {"name": "bare"},
                    {
                        "name": "full",
                        "user_id": "u",
                        "latest_versions": [VERSION],
                        "description": "d",
                        "tags": [{"key": "k", "value": "v"}],
                        "aliases": [{"alias": "champion", "version": "2"}],
                    },
                ]
            }
        ),
    )
    page = client.list_registry_models(REGISTRY_ID)
    assert api.received[0].body == {"registry_id": REGISTRY_ID}
    bare, full = page.registered_models
    assert bare == RegisteredModel(name="bare")
    assert bare.latest_versions is None and bare.tags == {} and bare.aliases == {}
    assert full.tags == {"k": "v"}
    assert full.aliases == {"champion": "2"}
    assert full.latest_versions[0].version == "2"
    assert page.next_page_token is None


# ---- pagination --------------------------------------------------------------------------------


def _paged_models(total: int) -> Callable[[Any], Reply]:
    def page(body: Any) -> Reply:
        start = int(body.get("page_token") or 0)
        size = int(body.get("max_results") or 100)
        names = [f"model-{i:05d}" for i in range(start, min(start + size, total))]
        following = start + size
        return ok(
            {
                "registered_models": [{"name": n, "user_id": "u"} for n in names],
                "next_page_token": str(following) if following < total else None,
            }
        )

    return page


def test_iter_registry_models_follows_tokens_without_loss_or_repeat(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond("/v1/api/models/list_registry_models", _paged_models(2345))
    names = [m.name for m in client.iter_registry_models(REGISTRY_ID, page_size=1000)]
    assert names == [f"model-{i:05d}" for i in range(2345)]
    sent = [r.body for r in api.received]
    assert [b.get("page_token") for b in sent] == [None, "1000", "2000"]
    assert {b["max_results"] for b in sent} == {1000}


def test_iter_registry_models_stops_on_a_repeated_token(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond(
        "/v1/api/models/list_registry_models",
        ok({"registered_models": [{"name": "same"}], "next_page_token": "again"}),
    )
    assert [m.name for m in client.iter_registry_models(REGISTRY_ID)] == ["same", "same"]
    assert len(api.received) == 2


def test_iter_model_versions_follows_tokens(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(
        "/v1/api/models/list_registry_model_versions",
        ok({"model_versions": [dict(VERSION, version="1")], "next_page_token": "t"}),
        ok({"model_versions": [dict(VERSION, version="2")], "next_page_token": None}),
    )
    versions = [v.version for v in client.iter_model_versions(REGISTRY_ID, "wine_quality")]
    assert versions == ["1", "2"]
    assert api.received[1].body["page_token"] == "t"


def test_registry_models_frame_reads_every_page(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond("/v1/api/models/list_registry_models", _paged_models(1500))
    frame = client.registry_models_frame(REGISTRY_ID, order_by=["name ASC"])
    assert len(frame) == 1500
    assert frame["name"].is_unique
    assert api.received[0].body["order_by"] == ["name ASC"]


# ---- retries -----------------------------------------------------------------------------------


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


# ---- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (502, UpstreamFailed),
        (500, ServerError),
    ],
)
def test_status_maps_to_a_typed_error(
    api: ScriptedApi, client: RegistryClient, status: int, kind: type[RegistryApiError]
) -> None:
    api.respond(
        "/v1/api/models/create_registry", (status, {"msg": "it failed", "code": status}, {})
    )
    with pytest.raises(kind) as caught:
        client.create_registry("r", "http://127.0.0.1:5000")
    err = caught.value
    assert (err.status, err.message, err.code, err.call) == (
        status,
        "it failed",
        status,
        "models/create_registry",
    )
    assert str(err) == f"models/create_registry -> HTTP {status}: it failed"


def test_the_msg_code_shape(api: ScriptedApi, client: RegistryClient) -> None:
    message = "name must be DNS-compliant: try 'wine-quality'"
    api.respond("/v1/api/models/upload_from_registry", (400, {"msg": message, "code": 400}, {}))
    with pytest.raises(BadRequest) as caught:
        client.upload_from_registry(
            REGISTRY_ID, name="wine-quality", path="dbfs:/m", workspace_id=1, framework="sklearn"
        )
    assert str(caught.value) == f"models/upload_from_registry -> HTTP 400: {message}"


def test_the_code_status_error_source_shape(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(
        "/v1/api/workspaces/create",
        (409, {"code": 409, "status": "Conflict", "error": "name taken", "source": "db"}, {}),
    )
    with pytest.raises(Conflict) as caught:
        client.create_workspace("team-a")
    assert caught.value.message == "name taken (source: db)"
    assert caught.value.code == 409


def test_an_html_error_page_is_described_briefly(api: ScriptedApi, client: RegistryClient) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body></html>"
    api.respond("/v1/api/workspaces/create", (502, page, {}))
    with pytest.raises(UpstreamFailed) as caught:
        client.create_workspace("team-a")
    message = caught.value.message
    assert "HTML" in message and "502 Bad Gateway" in message
    assert len(message) < 300


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


def test_the_token_never_appears_in_an_error(api: ScriptedApi) -> None:
    client = RegistryClient(api.base_url, TOKEN)
    echoed = f"token {TOKEN} rejected; header was 'Authorization: Bearer {TOKEN}'"
    api.respond("/v1/api/workspaces/list", (401, {"msg": echoed, "code": TOKEN}, {}))
    with pytest.raises(Unauthorized) as caught:
        client.list_workspaces()
    err = caught.value
    for text in (str(err), repr(err), repr(err.args), err.message, repr(vars(err))):
        assert TOKEN not in text
    assert err.__context__ is None and err.__cause__ is None
    assert TOKEN not in repr(pickle.loads(pickle.dumps(err)))
    assert TOKEN not in repr(client)
    assert repr(client) == f"RegistryClient({api.base_url!r})"


def test_a_failed_connection_does_not_chain_the_request(api: ScriptedApi) -> None:
    client = RegistryClient(f"http://127.0.0.1:{free_port()}", TOKEN)
    with pytest.raises(ConnectionFailed) as caught:
        client.create_workspace("team-a")
    assert caught.value.__context__ is None


def test_repr_hides_credentials_in_the_url() -> None:
    client = RegistryClient("http://user:pw@127.0.0.1:8300/", TOKEN)
    assert repr(client) == "RegistryClient('http://127.0.0.1:8300')"


# ---- from_wallaroo -----------------------------------------------------------------------------


class RotatingAuth:
    def __init__(self) -> None:
        self.issued = 0

    def auth_header(self) -> dict[str, str]:
        self.issued += 1
        return {"Authorization": f"Bearer jwt-{self.issued}-SECRETSECRET"}


class FakeWallarooClient:
    def __init__(self, endpoint: str) -> None:
        self.api_endpoint = endpoint
        self.auth = RotatingAuth()


def test_from_wallaroo_uses_a_fresh_header_per_request(api: ScriptedApi) -> None:
    api.respond("/v1/api/workspaces/list", ok({"workspaces": []}))
    client = RegistryClient.from_wallaroo(FakeWallarooClient(api.base_url))
    client.list_workspaces()
    client.list_workspaces()
    assert [r.headers["Authorization"] for r in api.received] == [
        "Bearer jwt-1-SECRETSECRET",
        "Bearer jwt-2-SECRETSECRET",
    ]
    assert "SECRET" not in repr(client)


def test_from_wallaroo_errors_hide_the_sdk_token(api: ScriptedApi) -> None:
    api.respond(
        "/v1/api/workspaces/list", (401, {"msg": "expired jwt-1-SECRETSECRET", "code": 401}, {})
    )
    client = RegistryClient.from_wallaroo(FakeWallarooClient(api.base_url))
    with pytest.raises(Unauthorized) as caught:
        client.list_workspaces()
    assert "SECRET" not in str(caught.value)


def test_from_wallaroo_rejects_other_objects() -> None:
    with pytest.raises(TypeError):
        RegistryClient.from_wallaroo(object())


# ---- frames ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "columns"),
    [
        (frames.workspaces_frame, frames.WORKSPACE_COLUMNS),
        (frames.registries_frame, frames.REGISTRY_COLUMNS),
        (frames.registered_models_frame, frames.REGISTERED_MODEL_COLUMNS),
        (frames.model_versions_frame, frames.MODEL_VERSION_COLUMNS),
        (frames.artifacts_frame, frames.ARTIFACT_COLUMNS),
        (frames.uploaded_models_frame, frames.UPLOADED_MODEL_COLUMNS),
    ],
)
def test_empty_frames_keep_their_columns(
    build: Callable[[list], pd.DataFrame], columns: list[str]
) -> None:
    frame = build([])
    assert list(frame.columns) == columns
    assert frame.empty
    for column in ("created_at", "updated_at", "modified_at"):
        if column in columns:
            assert isinstance(frame[column].dtype, pd.DatetimeTZDtype)
            assert str(frame[column].dtype.tz) == "UTC"


def test_client_frames_are_empty_but_shaped(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond("/v1/api/workspaces/list", ok({"workspaces": []}))
    api.respond("/v1/api/models/list_registries", ok([]))
    api.respond("/v1/api/models/list_registry_model_versions", ok({"model_versions": []}))
    api.respond("/v1/api/models/list_registry_model_version_artifacts", ok([]))
    api.respond("/v1/api/models/list", ok({"models": []}))
    assert list(client.workspaces_frame().columns) == frames.WORKSPACE_COLUMNS
    assert list(client.registries_frame(3).columns) == frames.REGISTRY_COLUMNS
    assert (
        list(client.model_versions_frame(REGISTRY_ID, "m").columns) == frames.MODEL_VERSION_COLUMNS
    )
    assert list(client.artifacts_frame(REGISTRY_ID, "m", "1").columns) == frames.ARTIFACT_COLUMNS
    assert list(client.models_frame().columns) == frames.UPLOADED_MODEL_COLUMNS
    # Each frame asked for what its arguments name.
    assert [(r.path.removeprefix("/v1/api/"), r.body) for r in api.received] == [
        ("workspaces/list", {}),
        ("models/list_registries", {"workspace_id": 3}),
        (
            "models/list_registry_model_versions",
            {"registry_id": REGISTRY_ID, "model_name": "m", "max_results": 1000, "extended": True},
        ),
        (
            "models/list_registry_model_version_artifacts",
            {"registry_id": REGISTRY_ID, "name": "m", "version": "1"},
        ),
        ("models/list", {}),
    ]
    client.models_frame(3)
    assert api.received[-1].body == {"workspace_id": 3}


def _ms(epoch_ms: int) -> pd.Timestamp:
    return pd.Timestamp(epoch_ms, unit="ms", tz="UTC")


def test_frames_carry_every_field() -> None:
    """One record through each frame: every column holds what the record says."""
    workspace = Workspace.from_json(
        {
            "id": 3,
            "name": "team-a",
            "created_at": "2026-01-01T00:00:00+00:00",
            "created_by": "u1",
            "archived": False,
            "models": [1, 2],
            "pipelines": [],
        }
    )
    registry = Registry.from_json(
        {
            "id": REGISTRY_ID,
            "name": "reg",
            "url": "https://adb-1.azuredatabricks.net",
            "token": "dapi****-3",
            "kind": "databricks",
            "created_at": "2023-06-23T15:37:38.38427+00:00",
            "updated_at": "2023-06-24T15:37:38+00:00",
            "workspaces": [{"id": 3, "name": "team-a"}, {"id": 4, "name": "team-b"}],
        }
    )
    artifact = Artifact.from_json(
        {
            "file_size": 156456,
            "full_path": "https://adb-1.net/api/2.0/dbfs/read?path=/m/model.pkl",
            "is_dir": False,
            "modification_time": 1686942597646,
            "path": "/m/model.pkl",
        }
    )
    uploaded = UploadedModel.from_json(
        MVC,
        model={"id": 5, "name": "wine-quality", "workspace_id": 3},
        workspace={"id": 3, "name": "team-a"},
    )
    expected = {
        frames.workspaces_frame: (
            workspace,
            {
                "id": 3,
                "name": "team-a",
                "created_at": pd.Timestamp("2026-01-01T00:00:00Z"),
                "created_by": "u1",
                "archived": False,
                "model_count": 2,
                "pipeline_count": 0,
            },
        ),
        frames.registries_frame: (
            registry,
            {
                "id": REGISTRY_ID,
                "name": "reg",
                "kind": "databricks",
                "url": "https://adb-1.azuredatabricks.net",
                "token_hint": "dapi****-3",
                "workspaces": "team-a, team-b",
                "created_at": pd.Timestamp("2023-06-23T15:37:38.38427Z"),
                "updated_at": pd.Timestamp("2023-06-24T15:37:38Z"),
            },
        ),
        frames.model_versions_frame: (
            ModelVersion.from_json(VERSION),
            {
                "name": "wine_quality",
                "version": "2",
                "current_stage": "Production",
                "status": "READY",
                "aliases": "champion",
                "description": "",
                "user_id": "",
                "run_id": "r1",
                "run_link": "",
                "source": "models:/wine_quality/2",
                "tags": "team=ml",
                "created_at": _ms(1686942576120),
                "updated_at": _ms(1686942597646),
            },
        ),
        frames.artifacts_frame: (
            artifact,
            {
                "path": "/m/model.pkl",
                "file_name": "model.pkl",
                "relative_path": "m/model.pkl",
                "is_dir": False,
                "file_size": 156456,
                "modified_at": _ms(1686942597646),
                "full_path": "https://adb-1.net/api/2.0/dbfs/read?path=/m/model.pkl",
            },
        ),
        frames.uploaded_models_frame: (
            uploaded,
            {
                "model_id": 5,
                "name": "wine-quality",
                "workspace_id": 3,
                "workspace_name": "team-a",
                "version_id": 7,
                "version": "u-1",
                "status": "ready",
                "framework": "sklearn",
                "python_version": "3.8",
                "requirements": "x",
                "runtime": "flight",
                "visibility": "private",
                "file_name": "model.pkl",
                "size": 1234,
                "sha": "ab" * 32,
                "source_registry_id": REGISTRY_ID,
                "source_model_name": "wine_quality",
                "source_version": "2",
                "source_path": "/model.pkl",
                "created_at": pd.Timestamp("2026-01-02T03:04:05Z"),
                "created_by": "me@example.com",
            },
        ),
    }
    for build, (record, row) in expected.items():
        frame = build([record])
        assert len(frame) == 1
        assert frame.iloc[0].to_dict() == row, build.__name__


def test_frame_times_are_utc_from_epoch_ms_and_iso() -> None:
    models = frames.registered_models_frame(
        [RegisteredModel.from_json({"name": "m", "creation_timestamp": 1686940722329})]
    )
    assert models.loc[0, "created_at"] == pd.Timestamp("2023-06-16T18:38:42.329Z")
    assert pd.isna(models.loc[0, "updated_at"])
    registries = frames.registries_frame(
        [Registry.from_json({"id": "r", "created_at": "2023-06-23T17:37:38+02:00"})]
    )
    assert registries.loc[0, "created_at"] == pd.Timestamp("2023-06-23T15:37:38Z")


def test_registered_models_frame_summarises_versions() -> None:
    model = RegisteredModel.from_json(
        {
            "name": "wine_quality",
            "latest_versions": [
                dict(VERSION, version="9", current_stage="Archived"),
                dict(VERSION, version="10"),
            ],
            "aliases": {"champion": "10"},
        }
    )
    row = frames.registered_models_frame([model]).iloc[0]
    assert row["latest_version"] == "10"
    assert row["stages"] == "Archived, Production"
    assert row["aliases"] == "champion@10"


def _versions_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "version": ["1", "10", "2", "9", "3"],
            "name": ["Alpha", "beta", "gamma", "Beta-two", "delta"],
            "stage": ["Production", "Archived", "None", "Production", "Staging"],
        }
    )


def test_page_of_sorts_text_numbers_as_numbers() -> None:
    page, total = frames.page_of(_versions_frame(), offset=0, limit=10, sort_by="version")
    assert list(page["version"]) == ["1", "2", "3", "9", "10"]
    assert total == 5
    page, _ = frames.page_of(
        _versions_frame(), offset=0, limit=2, sort_by="version", ascending=False
    )
    assert list(page["version"]) == ["10", "9"]


def test_page_of_sorts_text_case_blind() -> None:
    page, _ = frames.page_of(_versions_frame(), offset=0, limit=10, sort_by="name")
    assert list(page["name"]) == ["Alpha", "beta", "Beta-two", "delta", "gamma"]


def test_page_of_filters_on_every_term_in_any_column() -> None:
    page, total = frames.page_of(_versions_frame(), offset=0, limit=10, query="beta")
    assert total == 2 and set(page["name"]) == {"beta", "Beta-two"}
    page, total = frames.page_of(_versions_frame(), offset=0, limit=10, query="BETA production")
    assert total == 1 and list(page["name"]) == ["Beta-two"]
    _, total = frames.page_of(_versions_frame(), offset=0, limit=10, query="nothing-like-it")
    assert total == 0


def test_page_of_offsets_after_filter_and_sort_and_keeps_the_index() -> None:
    page, total = frames.page_of(_versions_frame(), offset=1, limit=2, sort_by="version", query="a")
    assert total == 5
    assert list(page["version"]) == ["2", "3"]
    assert list(page.index) == [2, 4]
    page, total = frames.page_of(_versions_frame(), offset=10, limit=5)
    assert page.empty and total == 5


def test_page_of_rejects_unknown_columns_and_negative_bounds() -> None:
    with pytest.raises(ValueError):
        frames.page_of(_versions_frame(), offset=0, limit=5, sort_by="nope")
    with pytest.raises(ValueError):
        frames.page_of(_versions_frame(), offset=-1, limit=5)


def test_page_of_on_an_empty_frame() -> None:
    page, total = frames.page_of(
        frames.artifacts_frame([]), offset=0, limit=5, sort_by="path", query="x"
    )
    assert total == 0 and list(page.columns) == frames.ARTIFACT_COLUMNS


# ---- import weight -----------------------------------------------------------------------------


def test_importing_the_client_leaves_the_server_stack_alone() -> None:
    probe = (
        "import sys, wallaroo_registry_ui.client\n"
        "heavy = [m for m in ('fastapi', 'sqlalchemy', 'mlflow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
