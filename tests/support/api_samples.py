"""Registry API payloads shared by the tests: one login, one registry id, one registry model
version and one uploaded model version, each with every field filled in; and the keys of a
registered model as the contract gives them, written out as the tests' own oracle."""

from __future__ import annotations

from typing import Any

TOKEN = "tok-SECRET-4f9a1c77e2"
REGISTRY_ID = "98f9ca1d-c4e7-4d70-8df4-05c25a64be29"

RM_KEYS = {
    "name",
    "user_id",
    "creation_timestamp",
    "last_updated_timestamp",
    "latest_versions",
    "description",
    "tags",
    "aliases",
}

VERSION: dict[str, Any] = {
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
MVC: dict[str, Any] = {
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
