"""Uploading from a real MLflow registry: bytes, provenance, validation, and all-or-nothing."""

from __future__ import annotations

import hashlib
import http.server
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pytest
from support.registry_helpers import artifact_named, file_sha256, local_http_server, mlflow_file

from wallaroo_registry_ui.client.errors import BadRequest, NotFound, UpstreamFailed
from wallaroo_registry_ui.contract import schema_from_base64


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


def test_missing_file_leaves_nothing(
    registry_service, alice, team_workspace, mlflow_registry, mlflow_seed
):
    before = _stored_files(registry_service)
    models_before = alice.client.list_models(team_workspace)
    artifact = artifact_named(alice.client, mlflow_registry, mlflow_seed.wine_model, "2", "MLmodel")
    with pytest.raises(NotFound) as caught:
        alice.client.upload_from_registry(
            mlflow_registry,
            name="ghost",
            workspace_id=team_workspace,
            framework="sklearn",
            path=artifact.full_path.replace("MLmodel", "no-such-file.pkl"),
        )
    assert "'local mlflow' answered HTTP 404" in caught.value.message
    assert "no-such-file.pkl" in caught.value.message
    assert _stored_files(registry_service) == before
    assert alice.client.list_models(team_workspace) == models_before


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


def test_registry_dying_mid_file_leaves_nothing(registry_service, alice, team_workspace):
    with local_http_server(_Truncating) as url:
        registry = alice.client.create_registry("dying", url, workspace_id=team_workspace)
        before = _stored_files(registry_service)
        models_before = alice.client.list_models(team_workspace)
        with pytest.raises(UpstreamFailed) as caught:
            alice.client.upload_from_registry(
                registry,
                name="half-model",
                workspace_id=team_workspace,
                framework="sklearn",
                path=f"{url}/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/model.pkl",
            )
        assert "dying" in caught.value.message
        assert _stored_files(registry_service) == before
        assert not list((registry_service.data_dir / "artifacts").glob(".incoming-*"))
        assert alice.client.list_models(team_workspace) == models_before


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
