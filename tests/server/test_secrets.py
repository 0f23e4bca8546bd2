"""The plain registry token appears in no response, no log line and not in the database."""

from __future__ import annotations

import requests

SECRET = "dapi-plain-registry-token-9c41e07d55aa"


def test_registry_token_never_leaves_the_store(
    registry_service, alice, team_workspace, mlflow_server, mlflow_seed
):
    replies: list[requests.Response] = []

    def call(name: str, body: dict) -> requests.Response:
        reply = registry_service.post(alice.token, name, body)
        replies.append(reply)
        return reply

    created = call(
        "models/create_registry",
        {
            "name": "secret test",
            "url": mlflow_server.url,
            "token": SECRET,
            "workspace_id": team_workspace,
        },
    ).json()
    registry_id = created["id"]
    dead = call(
        "models/create_registry",
        {
            "name": "dead registry",
            "url": "http://127.0.0.1:9",
            "token": SECRET,
            "workspace_id": team_workspace,
        },
    ).json()["id"]

    got = call("models/get_registry", {"registry_id": registry_id}).json()
    assert got["token"] and got["token"] != SECRET and "****" in got["token"]
    call("models/list_registries", {"workspace_id": team_workspace})
    models = call("models/list_registry_models", {"registry_id": registry_id, "max_results": 5})
    assert models.status_code == 200
    name, version = mlflow_seed.wine_model, "1"
    call(
        "models/list_registry_model_versions",
        {"registry_id": registry_id, "model_name": name, "extended": True},
    )
    artifacts = call(
        "models/list_registry_model_version_artifacts",
        {"registry_id": registry_id, "name": name, "version": version},
    ).json()
    small = min((a for a in artifacts if not a["is_dir"]), key=lambda a: a["file_size"])

    ok = call(
        "models/upload_from_registry",
        {
            "registry_id": registry_id,
            "name": "secret-test",
            "path": small["full_path"],
            "visibility": "private",
            "workspace_id": team_workspace,
            "conversion": {"framework": "sklearn", "requirements": []},
        },
    )
    assert ok.status_code == 200, ok.text
    failures = [
        call("models/list_registry_models", {"registry_id": dead}),
        call(
            "models/list_registry_model_version_artifacts",
            {"registry_id": registry_id, "name": name, "version": "999"},
        ),
        call(
            "models/upload_from_registry",
            {
                "registry_id": registry_id,
                "name": "secret-test",
                "path": "http://127.0.0.1:9/x",
                "visibility": "private",
                "workspace_id": team_workspace,
                "conversion": {"framework": "sklearn", "requirements": []},
            },
        ),
        call(
            "models/upload_from_registry",
            {
                "registry_id": dead,
                "name": "secret-test",
                "path": "http://127.0.0.1:9/x",
                "visibility": "private",
                "workspace_id": team_workspace,
                "conversion": {"framework": "sklearn", "requirements": []},
            },
        ),
    ]
    assert [f.status_code for f in failures] == [502, 404, 400, 400], [f.text for f in failures]
    assert [f.json()["code"] for f in failures] == [502, 404, 400, 400]

    for reply in replies:
        assert SECRET not in reply.text
        assert SECRET not in str(reply.headers)
    assert SECRET not in registry_service.log_path.read_text(errors="replace")
    for path in registry_service.data_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_key_file_is_private_and_config_needs_no_login(registry_service, alice):
    key_file = registry_service.data_dir / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert alice.client.config()["default_arch"] == "x86"
