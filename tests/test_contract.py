"""The shapes of ``contract.py`` against what the running service answers, call by call.

Every answer is checked against its TypedDict: each required key present, no key the shape
does not declare, and each value of the declared type, nested shapes included. So a key added
to, dropped from or retyped in an answer fails here until the shape says the same.
"""

from __future__ import annotations

import time
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pyarrow as pa
import pytest
import requests
from fastapi.routing import APIRoute

from wallaroo_registry_ui.contract import (
    EXTENDED_VERSION_KEYS,
    MODEL_VERSION_KEYS,
    AffectedRowsJson,
    ArtifactJson,
    ArtifactPreviewJson,
    AuditListJson,
    ConfigJson,
    EmptyJson,
    ExtendedModelVersionJson,
    ModelDetailJson,
    ModelListJson,
    ModelVersionJson,
    ModelVersionPageJson,
    RegisteredModelPageJson,
    RegistryAttachmentJson,
    RegistryCreatedJson,
    RegistryDeletedJson,
    RegistryDetailJson,
    RegistryJson,
    UploadAnswerJson,
    UploadedModelVersionJson,
    UploadJson,
    UploadListJson,
    WorkspaceCreatedJson,
    WorkspaceListJson,
    WorkspaceRefJson,
    WorkspaceUserListJson,
    schema_to_base64,
)
from wallaroo_registry_ui.server.routes import audit, models, registries, workspaces

# ---- checking a value against a shape --------------------------------------------------


def shape_problems(value: Any, shape: Any, where: str = "answer") -> list[str]:
    """What in ``value`` does not fit ``shape`` (a TypedDict or a type of one's fields)."""
    if typing.is_typeddict(shape):
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        fields = get_type_hints(shape)
        problems = [f"{where}.{key}: missing" for key in shape.__required_keys__ - value.keys()]
        problems += [f"{where}.{key}: not declared" for key in value.keys() - fields.keys()]
        for key in value.keys() & fields.keys():
            problems += shape_problems(value[key], fields[key], f"{where}.{key}")
        return problems
    origin = get_origin(shape)
    if origin in (Union, types.UnionType):
        options = [shape_problems(value, option, where) for option in get_args(shape)]
        if any(not found for found in options):
            return []
        return [f"{where}: {value!r:.80} is none of {shape}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        (item,) = get_args(shape)
        return [p for i, v in enumerate(value) for p in shape_problems(v, item, f"{where}[{i}]")]
    if origin is Literal:
        return [] if value in get_args(shape) else [f"{where}: {value!r} not in {shape}"]
    if shape is type(None):
        return [] if value is None else [f"{where}: expected null, got {value!r:.80}"]
    if shape is float:
        fits = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if fits else [f"{where}: expected a number, got {value!r:.80}"]
    if shape in (int, str, bool):
        fits = isinstance(value, shape) and not (shape is int and isinstance(value, bool))
        return [] if fits else [f"{where}: expected {shape.__name__}, got {value!r:.80}"]
    raise TypeError(f"{where}: the checker does not know {shape!r}")


def assert_fits(value: Any, shape: Any) -> None:
    problems = shape_problems(value, shape)
    assert not problems, "\n".join(problems[:20])


def test_the_checker_finds_what_does_not_fit():
    good = {"id": 1, "name": "w"}
    assert shape_problems(good, WorkspaceRefJson) == []
    assert shape_problems({"id": 1}, WorkspaceRefJson) == ["answer.name: missing"]
    assert shape_problems(good | {"extra": 1}, WorkspaceRefJson) == ["answer.extra: not declared"]
    assert shape_problems({"id": True, "name": "w"}, WorkspaceRefJson) != []
    assert shape_problems({"id": "1", "name": "w"}, WorkspaceRefJson) != []
    version = dict.fromkeys(ModelVersionJson.__annotations__, "")
    assert shape_problems(version, ModelVersionJson) == []
    assert shape_problems(version | {"creation_timestamp": None}, ModelVersionJson) != []
    assert shape_problems(version | {"aliases": []}, ModelVersionJson) != []
    assert shape_problems(version | {"aliases": []}, ExtendedModelVersionJson) == []
    assert shape_problems(version | {"tags": [{"key": "k"}]}, ExtendedModelVersionJson) == [
        "answer.tags[0].value: missing"
    ]


# ---- every route names its shape and sends the answer as built ------------------------


ROUTES = [
    route
    for router in (workspaces.router, registries.router, models.router, audit.router)
    for route in router.routes
    if isinstance(route, APIRoute)
]


def _shape_of(annotation: Any) -> Any:
    return get_args(annotation)[0] if get_origin(annotation) is list else annotation


@pytest.mark.parametrize("route", ROUTES, ids=[route.path for route in ROUTES])
def test_each_route_answers_a_contract_shape_sent_as_built(route):
    answered = get_type_hints(route.endpoint)["return"]
    shape = _shape_of(answered)
    assert typing.is_typeddict(shape), f"{route.path} answers {answered}, not a contract shape"
    assert shape.__module__ == "wallaroo_registry_ui.contract"
    sent_as = list[dict] if get_origin(answered) is list else dict
    assert route.response_model == sent_as, (
        f"{route.path}: response_model {route.response_model} would filter the answer"
    )


# ---- the answers of the running service ------------------------------------------------


def _calls(registry_service, token: str, family: str) -> Callable[[str, dict], Any]:
    """``call(name, body)``: the JSON of a 200 answer to ``<family>/<name>``."""

    def call(name: str, body: dict) -> Any:
        reply = registry_service.post(token, f"{family}/{name}", body)
        assert reply.status_code == 200, (name, reply.text)
        return reply.json()

    return call


def test_config(registry_service):
    reply = requests.get(f"{registry_service.url}/v1/api/config", timeout=30)
    assert reply.status_code == 200
    assert_fits(reply.json(), ConfigJson)


def test_workspace_calls(registry_service, alice, bob):
    call = _calls(registry_service, alice.token, "workspaces")
    created = call("create", {"workspace_name": "contract-shapes"})
    assert_fits(created, WorkspaceCreatedJson)
    workspace_id = created["workspace_id"]
    added = call("add_user", {"workspace_id": workspace_id, "email": bob.email})
    assert_fits(added, EmptyJson)
    assert added == {}
    listed = call("list", {})
    assert_fits(listed, WorkspaceListJson)
    assert {w["id"]: w["user_type"] for w in listed["workspaces"]}[workspace_id] == "owner"
    users = call("list_users", {"workspace_id": workspace_id})
    assert_fits(users, WorkspaceUserListJson)
    assert {u["user_type"] for u in users["users"]} == {"owner", "collaborator"}
    for rows in (1, 0):
        removed = call("remove_user", {"workspace_id": workspace_id, "email": bob.email})
        assert_fits(removed, AffectedRowsJson)
        assert removed == {"affected_rows": rows}


def test_audit_calls(registry_service, admin, alice):
    body = {"name": "audited", "url": "http://127.0.0.1:9"}
    created = _calls(registry_service, alice.token, "models")("create_registry", body)
    listed = _calls(registry_service, admin.token, "audit")("list", {})
    assert_fits(listed, AuditListJson)
    assert listed["events"][0]["registry_id"] == created["id"]


def test_registry_calls(registry_service, alice, mlflow_server):
    call = _calls(registry_service, alice.token, "models")
    workspace_id = _calls(registry_service, alice.token, "workspaces")(
        "create", {"workspace_name": "contract-registries"}
    )["workspace_id"]
    loose = call("create_registry", {"name": "contract loose", "url": mlflow_server.url})
    assert_fits(loose, RegistryCreatedJson)
    assert set(loose) == {"id"}
    attached = call(
        "create_registry",
        {"name": "contract attached", "url": mlflow_server.url, "workspace_id": workspace_id},
    )
    assert_fits(attached, RegistryCreatedJson)
    assert set(attached) == {"id", "workspace_id"}
    link = {"registry_id": loose["id"], "workspace_id": workspace_id}
    assert_fits(call("attach_registry_to_workspace", link), RegistryAttachmentJson)
    detail = call("get_registry", {"registry_id": loose["id"]})
    assert_fits(detail, RegistryDetailJson)
    assert detail["workspaces"] and detail["token"] == ""
    for body in ({"workspace_id": workspace_id}, {}):
        listed = call("list_registries", body)
        assert isinstance(listed, list) and listed
        assert_fits(listed, list[RegistryJson])
    assert_fits(call("remove_registry_from_workspace", link), RegistryAttachmentJson)
    changed = call("update_registry", {"registry_id": loose["id"], "name": "contract renamed"})
    assert_fits(changed, RegistryDetailJson)
    assert changed["name"] == "contract renamed"
    deleted = call("delete_registry", {"registry_id": attached["id"]})
    assert_fits(deleted, RegistryDeletedJson)
    assert deleted["detached_from"] == [workspace_id]


def test_mlflow_browsing(registry_service, alice, mlflow_registry, mlflow_seed):
    call = _calls(registry_service, alice.token, "models")
    ref = {"registry_id": mlflow_registry}
    page = call("list_registry_models", {**ref, "max_results": 1000})
    assert_fits(page, RegisteredModelPageJson)
    assert any(m["latest_versions"] for m in page["registered_models"])
    assert any(m["latest_versions"] is None for m in page["registered_models"])
    first = call("list_registry_models", {**ref, "max_results": 2})
    assert_fits(first, RegisteredModelPageJson)
    assert first["next_page_token"]
    _check_versions(call, ref, mlflow_seed.wine_model)
    _check_versions(call, ref, mlflow_seed.empty_model)
    nested = call(
        "list_registry_model_version_artifacts",
        {**ref, "name": mlflow_seed.nested_model, "version": mlflow_seed.nested_version},
    )
    assert any(a["is_dir"] for a in nested) and any(not a["is_dir"] for a in nested)
    assert_fits(nested, list[ArtifactJson])
    preview = call(
        "preview_registry_artifact",
        {**ref, "name": mlflow_seed.wine_model, "version": "2", "path": "MLmodel"},
    )
    assert_fits(preview, ArtifactPreviewJson)


def _check_versions(call, ref: dict, name: str) -> None:
    """Plain versions have exactly the MV keys; extended ones add every extended key."""
    plain = call("list_registry_model_versions", {**ref, "model_name": name})
    assert_fits(plain, ModelVersionPageJson)
    assert_fits(plain["model_versions"], list[ModelVersionJson])
    extended = call("list_registry_model_versions", {**ref, "model_name": name, "extended": True})
    assert_fits(extended, ModelVersionPageJson)
    every_key = {*MODEL_VERSION_KEYS, *EXTENDED_VERSION_KEYS}
    assert all(set(v) == every_key for v in extended["model_versions"])


def test_uploaded_model_calls(
    registry_service, alice, team_workspace, mlflow_registry, mlflow_seed
):
    call = _calls(registry_service, alice.token, "models")
    schema = schema_to_base64(pa.schema([pa.field("x", pa.float64())]))
    body = {
        "registry_id": mlflow_registry,
        "path": f"models:/{mlflow_seed.wine_model}/2/MLmodel",
        "visibility": "private",
        "workspace_id": team_workspace,
    }
    plain = call(
        "upload_from_registry",
        {**body, "name": "contract-plain", "conversion": {"framework": "onnx", "requirements": []}},
    )
    typed = call(
        "upload_from_registry",
        {
            **body,
            "name": "contract-typed",
            "conversion": {"framework": "sklearn", "requirements": ["scikit-learn"]},
            "input_schema": schema,
            "output_schema": schema,
            "model_name": mlflow_seed.wine_model,
            "model_version": "2",
        },
    )
    for answer in (plain, typed):
        assert_fits(answer, UploadAnswerJson)
        _check_upload(registry_service, alice.token, answer["model_id"])
    uploads = call("list_uploads", {"workspace_id": team_workspace})
    assert_fits(uploads, UploadListJson)
    assert {plain["model_id"], typed["model_id"]} <= {
        u["model_version_id"] for u in uploads["uploads"]
    }
    versions = {
        answer["model_id"]: call("get_version", {"model_version_id": answer["model_id"]})
        for answer in (plain, typed)
    }
    for version in versions.values():
        assert_fits(version, UploadedModelVersionJson)
    assert set(versions[plain["model_id"]]["config"]) == {"id", "model_version_id", "runtime"}
    assert {"input_schema", "output_schema"} <= set(versions[typed["model_id"]]["config"])
    listed = call("list", {"workspace_id": team_workspace})
    assert_fits(listed, ModelListJson)
    entries = {e["model"]["name"]: e for e in listed["models"]}
    assert {"contract-plain", "contract-typed"} <= set(entries)
    assert_fits(call("list", {}), ModelListJson)
    detail = call("get", {"id": entries["contract-typed"]["model"]["id"]})
    assert_fits(detail, ModelDetailJson)
    assert typed["model_id"] in [v["id"] for v in detail["models"]]


def _check_upload(registry_service, token: str, model_version_id: int) -> None:
    """Every answer of get_upload fits, while uploading and once ready; so does a cancel's
    409 once it has ended."""
    deadline = time.monotonic() + 60
    while True:
        reply = registry_service.post(
            token, "models/get_upload", {"model_version_id": model_version_id}
        )
        assert reply.status_code == 200, reply.text
        upload = reply.json()
        assert_fits(upload, UploadJson)
        if upload["status"] != "uploading":
            break
        assert time.monotonic() < deadline, f"upload {model_version_id} did not end: {upload}"
        time.sleep(0.1)
    assert upload["status"] == "ready", upload
    assert isinstance(upload["bytes_per_second"], int | float)
    cancel = registry_service.post(
        token, "models/cancel_upload", {"model_version_id": model_version_id}
    )
    assert cancel.status_code == 409, cancel.text


# ---- a Databricks registry answers the same shapes ------------------------------------


@pytest.fixture(scope="module")
def databricks_registry(alice, standin) -> str:
    """Seen by its creator, so it is browsed without being attached anywhere."""
    return alice.client.create_registry(
        "contract databricks", standin.url, token=standin.token, kind="databricks"
    )


def test_databricks_browsing(registry_service, alice, databricks_registry):
    call = _calls(registry_service, alice.token, "models")
    ref = {"registry_id": databricks_registry}
    token, names = None, []
    while True:
        page = call("list_registry_models", {**ref, "max_results": 1000, "page_token": token})
        assert_fits(page, RegisteredModelPageJson)
        names += [m["name"] for m in page["registered_models"]]
        token = page["next_page_token"]
        if not token:
            break
    assert {"testmodel2", "main.ml.churn"} <= set(names)
    for name, version in (("testmodel2", "1"), ("main.ml.churn", "1")):
        _check_versions(call, ref, name)
        files = call(
            "list_registry_model_version_artifacts", {**ref, "name": name, "version": version}
        )
        assert files
        assert_fits(files, list[ArtifactJson])
    preview = call(
        "preview_registry_artifact",
        {**ref, "name": "main.ml.churn", "version": "1", "path": "MLmodel"},
    )
    assert_fits(preview, ArtifactPreviewJson)
