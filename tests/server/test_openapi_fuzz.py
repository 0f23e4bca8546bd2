"""Schemathesis on the service's own OpenAPI, against a real ``serve`` with a user and a real
MLflow registry attached: no call answers 5xx, and every status answered is one the schema
declares (400 for bad input, never FastAPI's 422). Bounded: a few examples per call and one
minute in all.

The schema the fuzzer reads is the service's, with the ids of the user's workspace, the
registry and a seeded model version added as examples, so its examples phase reaches the
registry too and not only the 404 of an unknown id.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from support.servers import running

from wallaroo_registry_ui.demo.registry_service import (
    LOCAL_REGISTRY_HOSTS,
    start_registry_service,
)

MAX_EXAMPLES = 10
MAX_SECONDS = 60
RUN_TIMEOUT = 300
CHECKS = "not_a_server_error,status_code_conformance"


@pytest.fixture
def fuzzed_service(tmp_path: Path):
    with running(
        lambda: start_registry_service(
            tmp_path / "service", allow_registry_hosts=LOCAL_REGISTRY_HOSTS
        )
    ) as service:
        yield service


def _with_examples(schema: dict, values: dict[str, object]) -> dict:
    """``schema`` with ``values`` as the example of every body property of those names."""
    for component in schema.get("components", {}).get("schemas", {}).values():
        for name, prop in component.get("properties", {}).items():
            if name in values:
                prop["examples"] = [values[name]]
    return schema


def test_the_openapi_holds_under_fuzzing(
    fuzzed_service, tmp_path: Path, mlflow_server, mlflow_seed
):
    token = fuzzed_service.add_user("fuzzer@example.com")
    headers = {"Authorization": f"Bearer {token}"}

    def ok(call: str, body: dict) -> dict:
        answer = requests.post(
            f"{fuzzed_service.url}/v1/api/{call}", json=body, headers=headers, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    workspace = ok("workspaces/create", {"workspace_name": "fuzzed"})["workspace_id"]
    registry = ok(
        "models/create_registry",
        {"name": "seeded mlflow", "url": mlflow_server.url, "workspace_id": workspace},
    )["id"]
    schema = requests.get(f"{fuzzed_service.url}/openapi.json", timeout=30).json()
    assert not any(
        "422" in operation["responses"]
        for operations in schema["paths"].values()
        for operation in operations.values()
    )
    examples = {
        "registry_id": registry,
        "workspace_id": workspace,
        "model_name": mlflow_seed.wine_model,
        "name": mlflow_seed.wine_model,
        "version": mlflow_seed.wine_versions[0],
        "path": "MLmodel",
    }
    schema_file = tmp_path / "openapi.json"
    schema_file.write_text(json.dumps(_with_examples(schema, examples)))
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run", str(schema_file), "--url", fuzzed_service.url,
        "-H", f"Authorization: Bearer {token}",
        "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_SECONDS),
        "--phases", "examples,coverage,fuzzing", "--workers", "2", "--seed", "9",
        "--request-timeout", "60", "--no-shrink",
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path
    )
    report = done.stdout[-8000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert " passed" in done.stdout, report
