"""RegistryClient's calls against a scripted API over real HTTP: the request each call sends and
what it makes of the answer, pagination, uploads refused before sending, and from_wallaroo."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from support.api_samples import MVC, REGISTRY_ID, TOKEN, VERSION
from support.scripted_api import Reply, ScriptedApi, ok

from wallaroo_registry_ui.client import RegistryClient
from wallaroo_registry_ui.client.errors import BadRequest, Unauthorized
from wallaroo_registry_ui.client.records import (
    Artifact,
    DeletedRegistry,
    ModelVersion,
    ModelVersionPage,
    Registry,
    UploadedModel,
    Workspace,
    WorkspaceRef,
)

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
        lambda c: c.update_registry(REGISTRY_ID, url="https://adb-2.azuredatabricks.net", token=""),
        "models/update_registry",
        {"registry_id": REGISTRY_ID, "url": "https://adb-2.azuredatabricks.net", "token": ""},
        {
            "id": REGISTRY_ID,
            "name": "reg",
            "url": "https://adb-2.azuredatabricks.net",
            "token": "",
            "kind": "databricks",
            "created_at": "2023-06-23T15:37:38.38427+00:00",
            "updated_at": "2023-06-24T09:00:00+00:00",
            "workspaces": [{"id": 3, "name": "team-a"}],
        },
        Registry(
            id=REGISTRY_ID,
            name="reg",
            url="https://adb-2.azuredatabricks.net",
            kind="databricks",
            token_hint="",
            created_at="2023-06-23T15:37:38.38427+00:00",
            updated_at="2023-06-24T09:00:00+00:00",
            workspaces=[WorkspaceRef(3, "team-a")],
        ),
        id="update_registry",
    ),
    pytest.param(
        lambda c: c.delete_registry(REGISTRY_ID),
        "models/delete_registry",
        {"registry_id": REGISTRY_ID},
        {"id": REGISTRY_ID, "detached_from": [3, 5], "uploads_ended": 1},
        DeletedRegistry(REGISTRY_ID, [3, 5], 1),
        id="delete_registry",
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
        wait=False,
    )
    assert model_id == 34
    assert [r.path for r in api.received] == ["/v1/api/models/upload_from_registry"]
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
    api.respond(
        "/v1/api/models/get_upload",
        ok({"model_version_id": 1, "status": "ready", "bytes_done": 9, "bytes_total": 9}),
    )
    client.upload_from_registry(
        REGISTRY_ID, name="m", path="dbfs:/m.pkl", workspace_id=1, framework="onnx"
    )
    assert [r.path.removeprefix("/v1/api/") for r in api.received] == [
        "models/upload_from_registry",
        "models/get_upload",
    ]
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


def test_repr_hides_credentials_in_the_url() -> None:
    client = RegistryClient("http://user:pw@127.0.0.1:8300/", TOKEN)
    assert repr(client) == "RegistryClient('http://127.0.0.1:8300')"


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


HUB_TOKEN = "hub-token-of-the-kernel-7c1e0a93"


def test_no_arguments_sign_in_from_the_environment(api: ScriptedApi, monkeypatch) -> None:
    monkeypatch.setenv("WALLAROO_REGISTRY_URL", api.base_url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", HUB_TOKEN)
    monkeypatch.delenv("WALLAROO_REGISTRY_TOKEN", raising=False)
    api.respond("/v1/api/workspaces/list", ok({"workspaces": []}), ok({"workspaces": []}))
    with RegistryClient() as from_hub:
        assert from_hub.list_workspaces() == []
        assert HUB_TOKEN not in repr(from_hub)
    assert api.calls("/v1/api/workspaces/list")[0].headers["Authorization"] == (
        f"Bearer {HUB_TOKEN}"
    )
    monkeypatch.setenv("WALLAROO_REGISTRY_TOKEN", TOKEN)
    with RegistryClient() as from_api_token:
        from_api_token.list_workspaces()
    assert api.calls("/v1/api/workspaces/list")[1].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "set WALLAROO_REGISTRY_URL"),
        ({"WALLAROO_REGISTRY_URL": "http://127.0.0.1:9"}, "set WALLAROO_REGISTRY_TOKEN"),
        (
            {"WALLAROO_REGISTRY_URL": " ", "JUPYTERHUB_API_TOKEN": HUB_TOKEN},
            "WALLAROO_REGISTRY_URL",
        ),
    ],
)
def test_no_arguments_and_no_environment_say_what_to_set(monkeypatch, env, says) -> None:
    for name in ("WALLAROO_REGISTRY_URL", "WALLAROO_REGISTRY_TOKEN", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=says) as refused:
        RegistryClient()
    assert HUB_TOKEN not in str(refused.value)
    if "WALLAROO_REGISTRY_TOKEN" in says:
        assert "JUPYTERHUB_API_TOKEN" in str(refused.value)
