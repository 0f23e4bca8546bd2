"""Every call, fed a body with a required field missing or of the wrong type, answers 400
with a message naming that field, and never a 5xx."""

from __future__ import annotations

import pytest
import requests

MISSING = object()


def _valid_bodies(team_workspace: int, registry_id: str) -> dict[str, dict]:
    return {
        "workspaces/create": {"workspace_name": "never-created"},
        "workspaces/add_user": {"workspace_id": team_workspace, "email": "bob@example.com"},
        "workspaces/list_users": {"workspace_id": team_workspace},
        "workspaces/remove_user": {"workspace_id": team_workspace, "email": "nobody@example.com"},
        "models/create_registry": {"name": "r", "url": "http://127.0.0.1:9"},
        "models/attach_registry_to_workspace": {
            "registry_id": registry_id,
            "workspace_id": team_workspace,
        },
        "models/remove_registry_from_workspace": {
            "registry_id": registry_id,
            "workspace_id": team_workspace,
        },
        "models/get_registry": {"registry_id": registry_id},
        "models/list_registry_models": {"registry_id": registry_id},
        "models/list_registry_model_versions": {"registry_id": registry_id, "model_name": "m"},
        "models/list_registry_model_version_artifacts": {
            "registry_id": registry_id,
            "name": "m",
            "version": "1",
        },
        "models/upload_from_registry": {
            "registry_id": registry_id,
            "name": "m",
            "path": "mlflow-artifacts:/x",
            "visibility": "private",
            "workspace_id": team_workspace,
            "conversion": {"framework": "sklearn", "requirements": []},
        },
        "models/get": {"id": 1},
        "models/get_version": {"model_version_id": 1},
    }


WRONG_TYPE = {str: ["not", "a", "string"], int: "not-a-number", dict: "not-an-object"}


def test_each_required_field_missing_or_ill_typed(
    registry_service, alice, team_workspace, mlflow_registry
):
    bodies = _valid_bodies(team_workspace, mlflow_registry)
    checked = 0
    for call, body in bodies.items():
        for field, value in body.items():
            missing = {k: v for k, v in body.items() if k != field}
            wrong = {**body, field: WRONG_TYPE[type(value)]}
            for variant in (missing, wrong):
                reply = registry_service.post(alice.token, call, variant)
                assert reply.status_code == 400, (call, variant, reply.text)
                message = reply.json()["msg"]
                assert message.startswith(f"{field}: "), (call, field, message)
                if variant is missing:
                    assert "missing" in message, (call, field, message)
                assert reply.json()["code"] == 400
                checked += 1
    assert checked >= 50


@pytest.mark.parametrize(
    "conversion, field",
    [
        ({"requirements": []}, "conversion.framework"),
        ({"framework": "tensorflowz", "requirements": []}, "conversion.framework"),
        ({"framework": "sklearn", "requirements": "numpy"}, "conversion.requirements"),
        (
            {"framework": "sklearn", "requirements": [], "python_version": "2.7"},
            "conversion.python_version",
        ),
        (
            {"framework": "sklearn", "requirements": [], "input_schema": "%%%"},
            "conversion.input_schema",
        ),
    ],
)
def test_upload_conversion_problems_name_the_field(
    registry_service, alice, team_workspace, mlflow_registry, conversion, field
):
    body = _valid_bodies(team_workspace, mlflow_registry)["models/upload_from_registry"]
    reply = registry_service.post(
        alice.token,
        "models/upload_from_registry",
        {**body, "conversion": conversion},
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["msg"].startswith(f"{field}: "), reply.json()["msg"]


def _upload_of_a_real_file(team_workspace: int, registry_id: str, wine_model: str, name: str):
    """A body whose upload would succeed: the MLmodel of a seeded version, by registry URI."""
    return {
        "registry_id": registry_id,
        "name": name,
        "path": f"models:/{wine_model}/2/MLmodel",
        "visibility": "private",
        "workspace_id": team_workspace,
        "conversion": {"framework": "sklearn"},
    }


def _model_names(registry_service, token: str, workspace_id: int) -> list[str]:
    reply = registry_service.post(token, "models/list", {"workspace_id": workspace_id})
    assert reply.status_code == 200, reply.text
    return [entry["model"]["name"] for entry in reply.json()["models"]]


def test_upload_without_requirements_is_refused_and_leaves_nothing(
    registry_service, alice, team_workspace, mlflow_registry, mlflow_seed
):
    stored = registry_service.data_dir / "artifacts"
    files_before = {p for p in stored.rglob("*") if p.is_file()}
    body = _upload_of_a_real_file(
        team_workspace, mlflow_registry, mlflow_seed.wine_model, "no-requirements"
    )
    reply = registry_service.post(alice.token, "models/upload_from_registry", body)
    assert reply.status_code == 400, reply.text
    assert reply.json() == {
        "msg": "conversion.requirements: required field is missing",
        "code": 400,
    }
    assert "no-requirements" not in _model_names(registry_service, alice.token, team_workspace)
    assert {p for p in stored.rglob("*") if p.is_file()} == files_before


def test_upload_with_empty_requirements_is_accepted(
    registry_service, alice, team_workspace, mlflow_registry, mlflow_seed
):
    body = _upload_of_a_real_file(
        team_workspace, mlflow_registry, mlflow_seed.wine_model, "empty-requirements"
    )
    body["conversion"]["requirements"] = []
    reply = registry_service.post(alice.token, "models/upload_from_registry", body)
    assert reply.status_code == 200, reply.text
    version_id = reply.json()["model_id"]
    assert "empty-requirements" in _model_names(registry_service, alice.token, team_workspace)
    stored = registry_service.post(
        alice.token, "models/get_version", {"model_version_id": version_id}
    ).json()
    assert stored["model_version"]["conversion"]["requirements"] == []
    assert stored["model_version"]["file_info"]["file_name"] == "MLmodel"


@pytest.mark.parametrize(
    "extra, field, hint",
    [
        ({"name": "wine_quality"}, "name", "wine-quality"),
        ({"name": "Wine-Quality"}, "name", "wine-quality"),
        ({"name": "-lead"}, "name", "lead"),
        ({"name": "x" * 64}, "name", "63"),
        ({"visibility": "everyone"}, "visibility", "private"),
        ({"input_schema": "bm90IGEgc2NoZW1h"}, "input_schema", "pyarrow"),
        ({"output_schema": "not base64!"}, "output_schema", "base64"),
    ],
)
def test_upload_values_are_checked(
    registry_service, alice, team_workspace, mlflow_registry, extra, field, hint
):
    body = _valid_bodies(team_workspace, mlflow_registry)["models/upload_from_registry"]
    reply = registry_service.post(alice.token, "models/upload_from_registry", {**body, **extra})
    assert reply.status_code == 400, reply.text
    message = reply.json()["msg"]
    assert message.startswith(field), message
    assert hint in message


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"text"', "JSON object"),
    ],
)
def test_malformed_bodies(registry_service, alice, raw, expected):
    reply = requests.post(
        f"{registry_service.url}/v1/api/models/get_registry",
        data=raw,
        headers={"Authorization": f"Bearer {alice.token}", "content-type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 400
    assert expected in reply.json()["msg"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "r", "url": "ftp://host"}, "url"),
        ({"name": "r", "url": "not a url"}, "url"),
        ({"name": "r", "url": "http://user:pw@host"}, "url"),
        ({"name": " ", "url": "http://host"}, "name"),
        ({"name": "r", "url": "http://host", "kind": "s3"}, "kind"),
        ({"name": "r", "url": "http://host", "token": 42}, "token"),
    ],
)
def test_create_registry_values(registry_service, alice, body, field):
    reply = registry_service.post(alice.token, "models/create_registry", body)
    assert reply.status_code == 400, reply.text
    assert reply.json()["msg"].startswith(field)


def test_unknown_ids_are_404(registry_service, alice, team_workspace):
    unknown_registry = "00000000-0000-4000-8000-000000000000"
    for call, body in [
        ("models/get_registry", {"registry_id": unknown_registry}),
        ("models/list_registry_models", {"registry_id": unknown_registry}),
        ("models/get", {"id": 999999}),
        ("models/get_version", {"model_version_id": 999999}),
        ("workspaces/list_users", {"workspace_id": 999999}),
        (
            "models/attach_registry_to_workspace",
            {"registry_id": unknown_registry, "workspace_id": team_workspace},
        ),
    ]:
        reply = registry_service.post(alice.token, call, body)
        assert reply.status_code == 404, (call, reply.text)
        assert "not found" in reply.json()["msg"]


def test_auth_is_required(registry_service):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        reply = requests.post(
            f"{registry_service.url}/v1/api/workspaces/list", json={}, headers=headers, timeout=30
        )
        assert reply.status_code == 401
        assert reply.json()["code"] == 401
    config = requests.get(f"{registry_service.url}/v1/api/config", timeout=30)
    assert config.status_code == 200
    assert config.json()["default_arch"] == "x86"
