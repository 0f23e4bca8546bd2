"""Uploading from a real MLflow registry: bytes, provenance, validation, and uploads as jobs
(answered at once, followed, cancelled, listed, failed with nothing kept, shared by processes).
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pytest
from support.registry_helpers import artifact_named, file_sha256, local_http_server, mlflow_file
from support.service_stack import REGISTRY_TOKEN
from support.upload_api import UploadApi

from wallaroo_registry_ui.client.errors import BadRequest, UploadFailed
from wallaroo_registry_ui.contract import schema_from_base64
from wallaroo_registry_ui.demo.registry_service import (
    LOCAL_REGISTRY_HOSTS,
    start_registry_service,
)
from wallaroo_registry_ui.server.settings import UPLOAD_ATTEMPTS_ENV, UPLOAD_RETRY_ENV


def _stored_files(registry_service) -> set[Path]:
    root = registry_service.data_dir / "artifacts"
    return {p for p in root.rglob("*") if p.is_file()}


def test_upload_large_file_keeps_its_sha256(
    registry_service, alice, team_workspace, mlflow_registry, mlflow_seed
):
    large = mlflow_seed.large_file
    artifact = artifact_named(
        alice.client, mlflow_registry, large.model_name, large.version, large.relative_path
    )
    model_id = alice.client.upload_from_registry(
        mlflow_registry,
        name="big-weights",
        path=artifact.full_path,
        workspace_id=team_workspace,
        framework="custom",
        model_name=large.model_name,
        model_version=large.version,
    )
    version = alice.client.get_model_version(model_id)
    assert version.sha == large.sha256
    assert version.size == large.size
    assert version.status == "ready"
    assert (version.source_model_name, version.source_version) == (large.model_name, large.version)
    stored = registry_service.data_dir / "artifacts" / version.version / "big.bin"
    assert file_sha256(stored) == large.sha256
    listed = [m for m in alice.client.list_models(team_workspace) if m.version_id == model_id]
    assert listed and listed[0].sha == large.sha256


def test_upload_sklearn_model_with_schemas(
    registry_service, alice, team_workspace, mlflow_registry, mlflow_seed, tmp_path
):
    artifact = next(
        a
        for a in alice.client.list_artifacts(mlflow_registry, mlflow_seed.wine_model, "2")
        if a.relative_path.startswith("model.")
    )
    local = mlflow_file(
        mlflow_seed.url, mlflow_seed.wine_model, "2", artifact.relative_path, tmp_path
    )
    inputs = pa.schema([pa.field("alcohol", pa.float64()), pa.field("malic_acid", pa.float64())])
    outputs = pa.schema([pa.field("cultivar", pa.int64())])
    model_id = alice.client.upload_from_registry(
        mlflow_registry,
        name="wine-quality",
        path=artifact.full_path,
        workspace_id=team_workspace,
        framework="sklearn",
        requirements=["scikit-learn"],
        input_schema=inputs,
        output_schema=outputs,
    )
    version = alice.client.get_model_version(model_id)
    assert version.sha == file_sha256(local)
    assert version.source_model_name == mlflow_seed.wine_model
    assert version.source_version == "2"
    assert version.framework == "sklearn" and version.requirements == ["scikit-learn"]
    model = alice.client.get_model(
        next(
            m.model_id for m in alice.client.list_models(team_workspace) if m.version_id == model_id
        )
    )
    assert model["name"] == "wine-quality"
    assert model_id in [v["id"] for v in model["models"]]
    raw = registry_service.post(
        alice.token, "models/get_version", {"model_version_id": model_id}
    ).json()
    assert schema_from_base64(raw["config"]["input_schema"]) == inputs
    assert schema_from_base64(raw["config"]["output_schema"]) == outputs
    assert raw["config"]["runtime"] == "flight"


@pytest.mark.parametrize("form", ["proxy_uri", "models_uri", "runs_uri"])
def test_registry_uris_are_accepted(alice, team_workspace, mlflow_registry, mlflow_seed, form):
    name, version = mlflow_seed.nested_model, mlflow_seed.nested_version
    path = {
        "models_uri": f"models:/{name}/{version}/config/params.json",
        "runs_uri": f"runs:/{mlflow_seed.run_id}/model_dir/config/params.json",
        "proxy_uri": None,
    }[form]
    if path is None:
        source = next(
            v.source for v in alice.client.list_model_versions(mlflow_registry, name).model_versions
        )
        path = f"{source}/config/params.json"
    model_id = alice.client.upload_from_registry(
        mlflow_registry,
        name=f"params-{form.replace('_', '-')}",
        path=path,
        workspace_id=team_workspace,
        framework="python",
    )
    version_record = alice.client.get_model_version(model_id)
    expected = b'{"layers": 2, "units": [4, 3]}\n'
    assert version_record.sha == hashlib.sha256(expected).hexdigest()
    assert version_record.file_name == "params.json"


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        type(self).hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"stolen")

    def log_message(self, *args):
        pass


def test_path_on_another_host_is_refused_before_any_request(
    registry_service, alice, team_workspace, mlflow_registry
):
    with local_http_server(_Recorder) as trap:
        port = urlsplit(trap).port
        before = _stored_files(registry_service)
        for path in (
            f"http://127.0.0.1:{port}/model.pkl",
            f"http://localhost:{port}/api/2.0/mlflow-artifacts/artifacts/x",
            "file:///etc/passwd",
            "s3://bucket/model.pkl",
            "mlflow-artifacts:/../../etc/passwd",
        ):
            with pytest.raises(BadRequest) as caught:
                alice.client.upload_from_registry(
                    mlflow_registry,
                    name="elsewhere",
                    path=path,
                    workspace_id=team_workspace,
                    framework="sklearn",
                )
            assert caught.value.message.startswith("path"), caught.value.message
        assert _Recorder.hits == []
        assert _stored_files(registry_service) == before
        assert "elsewhere" not in [m.name for m in alice.client.list_models(team_workspace)]


def test_missing_file_ends_in_error_and_keeps_nothing(
    registry_service, alice, team_workspace, mlflow_registry, mlflow_seed
):
    before = _stored_files(registry_service)
    artifact = artifact_named(alice.client, mlflow_registry, mlflow_seed.wine_model, "2", "MLmodel")
    with pytest.raises(UploadFailed) as caught:
        alice.client.upload_from_registry(
            mlflow_registry,
            name="ghost",
            workspace_id=team_workspace,
            framework="sklearn",
            path=artifact.full_path.replace("MLmodel", "no-such-file.pkl"),
        )
    failed = caught.value.progress
    assert failed.status == "error" and failed.attempts == 1 and failed.bytes_done == 0
    assert failed.error.startswith("registry 'local mlflow' answered HTTP 404: ")
    assert failed.error.endswith(("not found", "it does not exist (RESOURCE_DOES_NOT_EXIST)"))
    assert REGISTRY_TOKEN not in failed.error
    assert _stored_files(registry_service) == before
    version = registry_service.post(
        alice.token, "models/get_version", {"model_version_id": failed.model_version_id}
    ).json()["model_version"]
    assert version["status"] == "error"
    assert (version["file_info"]["sha"], version["file_info"]["size"]) == ("", 0)
    listed = [m for m in alice.client.list_models(team_workspace) if m.name == "ghost"]
    assert [(m.version_id, m.status) for m in listed] == [(failed.model_version_id, "error")]


class _Truncating(http.server.BaseHTTPRequestHandler):
    """Announces more bytes than it sends, then hangs up: a registry dying mid-file."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(5 * 1024 * 1024))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.wfile.write(b"x" * (1024 * 1024))
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, *args):
        pass


class _Slow(http.server.BaseHTTPRequestHandler):
    """A registry file of SLOW_SIZE bytes that comes at about 1.3 MB/s, whole every time."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(SLOW_SIZE))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        block = b"s" * SLOW_BLOCK
        try:
            for _ in range(SLOW_SIZE // SLOW_BLOCK):
                self.wfile.write(block)
                self.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


SLOW_BLOCK = 64 * 1024
SLOW_SIZE = 96 * SLOW_BLOCK
FAKE_PATH = "/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/model.pkl"
FEW_ATTEMPTS = 3


@pytest.fixture(scope="module")
def small_budget_service(tmp_path_factory):
    """A service of its own that gives up on a failing upload after FEW_ATTEMPTS attempts."""
    service = start_registry_service(
        tmp_path_factory.mktemp("small-budget"),
        env={UPLOAD_ATTEMPTS_ENV: str(FEW_ATTEMPTS), UPLOAD_RETRY_ENV: "20"},
        allow_registry_hosts=LOCAL_REGISTRY_HOSTS,
    )
    try:
        yield service
    finally:
        service.stop()


def test_registry_dying_mid_file_ends_in_error_and_keeps_nothing(small_budget_service):
    service = small_budget_service
    with UploadApi(service.url, service.add_user("dana@example.com")) as api:
        workspace_id = api.ok("workspaces/create", {"workspace_name": "dying-space"})[
            "workspace_id"
        ]
        with local_http_server(_Truncating) as url:
            registry = api.connect_registry("dying", url, "", workspace_id)
            before = _stored_files(service)
            version_id = api.start(registry, workspace_id, f"{url}{FAKE_PATH}", "half-model")
            failed = api.wait_ended(version_id, 60)
        assert failed["status"] == "error" and failed["attempts"] == FEW_ATTEMPTS
        assert failed["error"].startswith("registry 'dying': ")
        assert failed["error"].endswith(f"gave up after {FEW_ATTEMPTS} attempts")
        assert (failed["bytes_done"], failed["bytes_per_second"]) == (0, None)
        assert _stored_files(service) == before
        assert not list((service.data_dir / "artifacts").glob(".incoming-*"))
        assert api.version(version_id)["status"] == "error"


def test_an_upload_is_a_job_followed_and_cancelled(registry_service, alice, team_workspace):
    with UploadApi(registry_service.url, alice.token) as api, local_http_server(_Slow) as url:
        registry = api.connect_registry("slow", url, "", team_workspace)
        before = _stored_files(registry_service)
        asked = time.monotonic()
        version_id = api.start(registry, team_workspace, f"{url}{FAKE_PATH}", "slow-weights")
        assert time.monotonic() - asked < 2, "the upload was not answered at once"
        moving = api.wait_until(
            version_id,
            lambda u: u["bytes_done"] > 0 and u["bytes_per_second"],
            15,
            "moving",
        )
        assert moving["status"] == "uploading" and moving["bytes_total"] == SLOW_SIZE
        assert moving["bytes_done"] < SLOW_SIZE and moving["finished_at"] is None
        assert datetime.fromisoformat(moving["started_at"]).tzinfo is not None
        in_flight = api.version(version_id)
        assert in_flight["status"] == "uploading" and in_flight["file_info"]["sha"] == ""
        assert 0 < in_flight["file_info"]["size"] <= SLOW_SIZE
        listed = api.ok(
            "models/list_uploads", {"workspace_id": team_workspace, "status": "uploading"}
        )
        entry = next(u for u in listed["uploads"] if u["model_version_id"] == version_id)
        assert (entry["name"], entry["workspace_id"]) == ("slow-weights", team_workspace)

        asked = time.monotonic()
        cancelled = api.cancel(version_id)
        assert cancelled.status_code == 200, cancelled.text
        assert time.monotonic() - asked < 5
        stopped = cancelled.json()
        assert stopped["status"] == "error" and stopped["error"] == f"cancelled by {alice.email}"
        assert stopped["bytes_done"] == 0 and stopped["finished_at"] is not None
        assert api.upload(version_id) == stopped
        again = api.cancel(version_id)
        assert again.status_code == 409, again.text
        assert again.json()["msg"].startswith("model_version_id: ")
        assert "already ended (error)" in again.json()["msg"]
        assert api.version(version_id)["status"] == "error"
        assert _stored_files(registry_service) == before
        assert not list((registry_service.data_dir / "artifacts").glob(".incoming-*"))
        for status, present in (("uploading", False), ("error", True), (None, True)):
            body = {"workspace_id": team_workspace} | ({"status": status} if status else {})
            ids = [u["model_version_id"] for u in api.ok("models/list_uploads", body)["uploads"]]
            assert (version_id in ids) is present, (status, ids)


def test_uploads_are_listed_newest_first(
    registry_service, alice, team_workspace, mlflow_registry, mlflow_seed
):
    with UploadApi(registry_service.url, alice.token) as api:
        workspace_id = _workspace_with(api, "listing-space", mlflow_registry)
        path = f"models:/{mlflow_seed.wine_model}/2/MLmodel"
        ids = [api.start(mlflow_registry, workspace_id, path, f"listed-{i}") for i in range(3)]
        for version_id in ids:
            assert api.wait_ended(version_id, 60)["status"] == "ready"
        listed = api.ok("models/list_uploads", {"workspace_id": workspace_id})["uploads"]
        assert [u["model_version_id"] for u in listed] == ids[::-1]
        assert [u["name"] for u in listed] == ["listed-2", "listed-1", "listed-0"]
        assert api.ok(
            "models/list_uploads", {"workspace_id": workspace_id, "status": "uploading"}
        ) == {"uploads": []}
        ready = api.upload(ids[0])
        assert (
            ready["bytes_done"] == ready["bytes_total"] == api.version(ids[0])["file_info"]["size"]
        )
        assert ready["attempts"] == 1 and ready["error"] is None and ready["finished_at"]


def test_upload_calls_are_for_members_only(
    registry_service, alice, bob, mlflow_registry, mlflow_seed
):
    with UploadApi(registry_service.url, alice.token) as api:
        workspace_id = _workspace_with(api, "members-space", mlflow_registry)
        path = f"models:/{mlflow_seed.wine_model}/2/MLmodel"
        version_id = api.start(mlflow_registry, workspace_id, path, "members-only")
        api.wait_ended(version_id, 60)
    with UploadApi(registry_service.url, bob.token) as stranger:
        for call in ("models/get_upload", "models/cancel_upload"):
            for asked in (version_id, 987654321):
                reply = stranger.post(call, {"model_version_id": asked})
                assert reply.status_code == 404, reply.text
                assert reply.json()["msg"] == f"model version {asked} not found"
        reply = stranger.post("models/list_uploads", {"workspace_id": workspace_id})
        assert reply.status_code == 403 and reply.json()["msg"].startswith("workspace_id")
        reply = stranger.post("models/list_uploads", {"workspace_id": 987654321})
        assert reply.status_code == 404
    with UploadApi(registry_service.url, alice.token) as api:
        reply = api.post("models/list_uploads", {"workspace_id": workspace_id, "status": "done"})
        assert reply.status_code == 400
        assert reply.json()["msg"] == "status: must be one of uploading, ready, error"
        reply = api.post("models/get_upload", {})
        assert reply.status_code == 400 and reply.json()["msg"].startswith("model_version_id")
        ended = api.cancel(version_id)
        assert ended.status_code == 409 and "already ended (ready)" in ended.json()["msg"]


def test_several_processes_share_the_uploads(tmp_path, mlflow_server, mlflow_seed):
    service = start_registry_service(
        tmp_path / "workers",
        extra_args=["--workers", "2", "--max-uploads", "1"],
        allow_registry_hosts=LOCAL_REGISTRY_HOSTS,
    )
    try:
        with UploadApi(service.url, service.add_user("erin@example.com")) as api:
            workspace_id = api.ok("workspaces/create", {"workspace_name": "workers"})[
                "workspace_id"
            ]
            registry = api.connect_registry("mlflow", mlflow_server.url, "", workspace_id)
            large = mlflow_seed.large_file
            path = f"models:/{large.model_name}/{large.version}/{large.relative_path}"
            ids = [api.start(registry, workspace_id, path, f"shared-{i}") for i in range(3)]
            for version_id in ids:
                done = api.wait_ended(version_id, 120)
                assert done["status"] == "ready", done
                stored = api.version(version_id)["file_info"]
                assert (stored["sha"], stored["size"]) == (large.sha256, large.size)
    finally:
        service.stop()
    assert "with 2 processes" in service.log_path.read_text()


def test_upload_needs_registry_attached_to_target_workspace(alice, mlflow_registry, mlflow_seed):
    other = alice.client.create_workspace("unattached-space")
    with pytest.raises(BadRequest) as caught:
        alice.client.upload_from_registry(
            mlflow_registry,
            name="wine-quality",
            workspace_id=other,
            framework="sklearn",
            path=f"models:/{mlflow_seed.wine_model}/2/model.pkl",
        )
    assert "attach" in caught.value.message


def _workspace_with(api: UploadApi, name: str, registry_id: str) -> int:
    """A new workspace of the caller's with the registry attached; its id."""
    workspace_id = api.ok("workspaces/create", {"workspace_name": name})["workspace_id"]
    api.ok(
        "models/attach_registry_to_workspace",
        {"registry_id": registry_id, "workspace_id": workspace_id},
    )
    return workspace_id
