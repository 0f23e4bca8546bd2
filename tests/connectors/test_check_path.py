"""``check_path``: what an upload path names, told without a request (nothing listens behind
the trap URL), and refused in exactly the words ``open_download`` uses; against the real
MLflow server and the Databricks stand-in, it agrees with what ``open_download`` reports."""

from __future__ import annotations

import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from mlflow import MlflowClient
from support.databricks_standin import TESTMODEL_ROOT, WINE_TRACKING_ROOT
from support.silent_port import no_connection_seen, silent_port_url

from wallaroo_registry_ui.contract import TOKEN_MASK
from wallaroo_registry_ui.server.connectors.base import InvalidArtifactPath, RegistryConnector
from wallaroo_registry_ui.server.connectors.databricks import DatabricksConnector
from wallaroo_registry_ui.server.connectors.http import RegistryHttp
from wallaroo_registry_ui.server.connectors.mlflow import MlflowConnector

TOKEN = "tok-check-path-77aa77aa-secret"
LOGGED_ID = "m-" + "0123456789abcdef" * 2
RUN = "0a1b2c3d4e5f"
DBFS_BIG = f"{TESTMODEL_ROOT}/data/weights/big.bin"
UC_BIG = "/Models/main/ml/churn/2/data/big.bin"
ANY_MLFLOW_URI = (
    "only this registry's URLs and mlflow-artifacts:/, models:/ and runs:/ URIs are accepted"
)
ANY_DATABRICKS_URI = (
    "only this workspace's DBFS read and Files API URLs, and dbfs:/ and models:/ URIs are accepted"
)


def _mlflow(url: str) -> MlflowConnector:
    http = RegistryHttp("trap", url, TOKEN, timeout=0.3, max_retry_seconds=0)
    return MlflowConnector("trap", url, http=http)


def _databricks(url: str) -> DatabricksConnector:
    http = RegistryHttp("trap", url, TOKEN, timeout=0.3, max_retry_seconds=0)
    return DatabricksConnector("trap", url, TOKEN, http=http)


def _provenance(name, version, path, file_name) -> dict:
    return {"model_name": name, "model_version": version, "path": path, "file_name": file_name}


# --- MLflow -------------------------------------------------------------------------------

MLFLOW_ACCEPTED = {
    "{url}/model-versions/get-artifact?name=wine&version=3&path=model%2FMLmodel": (
        "wine",
        "3",
        "model/MLmodel",
        "MLmodel",
    ),
    f"{{url}}/get-artifact?run_uuid={RUN}&path=model_dir%2FREADME.md": (
        None,
        None,
        "model_dir/README.md",
        "README.md",
    ),
    f"{{url}}/get-artifact?run_id={RUN}&path=a.txt": (None, None, "a.txt", "a.txt"),
    "{url}/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/w%20x/big.bin": (
        None,
        None,
        "1/abc/artifacts/w x/big.bin",
        "big.bin",
    ),
    "mlflow-artifacts:/1/abc/artifacts/model.pkl": (
        None,
        None,
        "1/abc/artifacts/model.pkl",
        "model.pkl",
    ),
    "mlflow-artifacts://{netloc}/1/abc/model.pkl": (None, None, "1/abc/model.pkl", "model.pkl"),
    "models:/wine/3/model/MLmodel": ("wine", "3", "model/MLmodel", "MLmodel"),
    "models:/main.ml.churn/12/data/x.bin": ("main.ml.churn", "12", "data/x.bin", "x.bin"),
    f"models:/{LOGGED_ID}/MLmodel": (None, None, "MLmodel", "MLmodel"),
    f"runs:/{RUN}/model_dir/README.md": (None, None, "model_dir/README.md", "README.md"),
}


@pytest.mark.parametrize("template", list(MLFLOW_ACCEPTED))
def test_mlflow_paths_are_told_without_a_request(silent_port, template):
    url = silent_port_url(silent_port)
    path = template.format(url=url, netloc=urlsplit(url).netloc)
    assert _mlflow(url).check_path(path) == _provenance(*MLFLOW_ACCEPTED[template])
    assert no_connection_seen(silent_port)


MLFLOW_REFUSED = {
    "": "it is empty",
    "   ": "it is empty",
    "file:///etc/passwd": ANY_MLFLOW_URI,
    "s3://bucket/model.pkl": ANY_MLFLOW_URI,
    "dbfs:/databricks/mlflow-registry/1/models/m/model.pkl": ANY_MLFLOW_URI,
    "ftp://127.0.0.1/x": ANY_MLFLOW_URI,
    "http://[::1": "it is not a valid URL",
    "http://127.0.0.1:1/model-versions/get-artifact?name=m&version=1&path=a": (
        "it is on http://127.0.0.1:1, not on {origin}"
    ),
    "http://user:pw@{netloc}/model-versions/get-artifact?name=m&version=1&path=a": (
        "it carries credentials"
    ),
    "{url}/api/2.0/mlflow/registered-models/search": (
        "it is not one of MLflow's download URLs (/model-versions/get-artifact, /get-artifact, "
        "/api/2.0/mlflow-artifacts/artifacts/...)"
    ),
    "{url}/model-versions/get-artifact?name=m&version=1&path=a&path=b": (
        "it needs exactly one 'path' query parameter"
    ),
    "{url}/model-versions/get-artifact?name=m&path=a": (
        "it needs exactly one 'version' query parameter"
    ),
    "{url}/model-versions/get-artifact?name=m&version=x&path=a": "its version is not a number",
    "{url}/get-artifact?run_uuid=a.b&path=a": "its run id is malformed",
    "{url}/get-artifact?run_uuid=r&path=a/../../b": "it climbs out of its folder ('..')",
    "{url}/api/2.0/mlflow-artifacts/artifacts/0/%2e%2e/%2e%2e/etc/passwd": (
        "it climbs out of its folder ('..')"
    ),
    "mlflow-artifacts://127.0.0.1:1/0/x/y.bin": (
        "it names the server 127.0.0.1:1, not this registry"
    ),
    "mlflow-artifacts:relative/path": "an mlflow-artifacts URI reads mlflow-artifacts:/<path>",
    "mlflow-artifacts:/0/../../etc/passwd": "it climbs out of its folder ('..')",
    "mlflow-artifacts:/0/a/./b": "it has an empty or '.' segment",
    "mlflow-artifacts:/0/a\\..\\b": "it contains a backslash or a NUL character",
    "mlflow-artifacts:/0/a/": "it names no file",
    "models:/wine/latest/MLmodel": (
        "a models URI reads models:/<name>/<version>/<file path> or models:/m-<id>/<file path>"
    ),
    "models:/wine/1/": "it names no file",
    f"models:/{LOGGED_ID}": "it names no file",
    "runs:/not a run/x": "a runs URI reads runs:/<run_id>/<file path>",
    "runs:/abc/../../etc/passwd": "it climbs out of its folder ('..')",
}


@pytest.mark.parametrize("template", list(MLFLOW_REFUSED))
def test_mlflow_refusals_are_open_downloads_own(silent_port, template):
    _assert_refused_as_open_download_refuses(
        silent_port, template, MLFLOW_REFUSED[template], _mlflow, "MLflow"
    )


def _assert_refused_as_open_download_refuses(
    sock: socket.socket, template: str, reason: str, connect: Callable, kind: str
) -> None:
    """``check_path`` refuses the path in ``open_download``'s words, and nothing is asked."""
    url = silent_port_url(sock)
    netloc = urlsplit(url).netloc
    path = template.format(url=url, netloc=netloc)
    reason = reason.format(origin=f"http://{netloc}")
    connector = connect(url)
    with pytest.raises(InvalidArtifactPath) as checked:
        connector.check_path(path)
    with pytest.raises(InvalidArtifactPath) as opened:
        connector.open_download(path)
    expected = f"path {path!r} is not a file of {kind} registry 'trap': {reason}"
    assert str(checked.value) == str(opened.value) == expected
    assert checked.value.field == "path"
    assert no_connection_seen(sock)


def test_mlflow_paths_outside_the_base_url_are_refused(silent_port):
    url = silent_port_url(silent_port)
    connector = _mlflow(f"{url}/mlflow")
    path = f"{url}/model-versions/get-artifact?name=m&version=1&path=a"
    with pytest.raises(InvalidArtifactPath) as checked:
        connector.check_path(path)
    assert str(checked.value).endswith(f": it is not under {url}/mlflow")
    inside = f"{url}/mlflow/model-versions/get-artifact?name=m&version=1&path=a"
    assert connector.check_path(inside) == _provenance("m", "1", "a", "a")
    assert no_connection_seen(silent_port)


def test_a_token_in_a_refused_path_is_masked(silent_port):
    url = silent_port_url(silent_port)
    with pytest.raises(InvalidArtifactPath) as checked:
        _mlflow(url).check_path(f"s3://bucket/{TOKEN}/model.pkl")
    assert TOKEN not in str(checked.value) and TOKEN_MASK in str(checked.value)


def test_mlflow_check_path_agrees_with_open_download(mlflow_seed):
    connector = MlflowConnector("local mlflow", mlflow_seed.url)
    name, version = mlflow_seed.nested_model, mlflow_seed.nested_version
    client = MlflowClient(tracking_uri=mlflow_seed.url)
    proxy_rel = client.get_model_version_download_uri(name, version).split(":/", 1)[1]
    items = connector.list_artifacts(name, version)
    run_items = connector.list_artifacts(mlflow_seed.run_source_model, "1")
    paths = [
        next(i["full_path"] for i in items if i["relative_path"] == "README.md"),
        next(i["full_path"] for i in run_items if i["relative_path"] == "README.md"),
        f"{mlflow_seed.url}/api/2.0/mlflow-artifacts/artifacts/{proxy_rel}/README.md",
        f"mlflow-artifacts:/{proxy_rel}/README.md",
        f"models:/{name}/{version}/README.md",
        f"runs:/{mlflow_seed.run_id}/model_dir/README.md",
        f"models:/{mlflow_seed.wine_model_id}/MLmodel",
    ]
    _assert_check_path_agrees(connector, paths)


# --- Databricks ---------------------------------------------------------------------------

DATABRICKS_ACCEPTED = {
    f"dbfs:{DBFS_BIG}": (None, None, DBFS_BIG, "big.bin"),
    f"dbfs://{DBFS_BIG}": (None, None, DBFS_BIG, "big.bin"),
    f"{{url}}/api/2.0/dbfs/read?path={DBFS_BIG}": (None, None, DBFS_BIG, "big.bin"),
    f"dbfs:{WINE_TRACKING_ROOT}/model.pkl": (
        None,
        None,
        f"{WINE_TRACKING_ROOT}/model.pkl",
        "model.pkl",
    ),
    f"{{url}}/api/2.0/fs/files{UC_BIG}": ("main.ml.churn", "2", UC_BIG, "big.bin"),
    "{url}/api/2.0/fs/files/Models/main/ml/churn/2/a%20b.txt": (
        "main.ml.churn",
        "2",
        "/Models/main/ml/churn/2/a b.txt",
        "a b.txt",
    ),
    "{url}/api/2.0/fs/files/Volumes/main/raw/x.bin": (
        None,
        None,
        "/Volumes/main/raw/x.bin",
        "x.bin",
    ),
    "models:/testmodel2/1/data/weights/big.bin": (
        "testmodel2",
        "1",
        "data/weights/big.bin",
        "big.bin",
    ),
    "models:/main.ml.churn/2/data/big.bin": ("main.ml.churn", "2", "data/big.bin", "big.bin"),
}


@pytest.mark.parametrize("template", list(DATABRICKS_ACCEPTED))
def test_databricks_paths_are_told_without_a_request(silent_port, template):
    url = silent_port_url(silent_port)
    path = template.format(url=url)
    assert _databricks(url).check_path(path) == _provenance(*DATABRICKS_ACCEPTED[template])
    assert no_connection_seen(silent_port)


DATABRICKS_REFUSED = {
    "": "it is empty",
    "http://example.com/api/2.0/dbfs/read?path=/databricks/x": (
        "it is on http://example.com:80, not on {origin}"
    ),
    "{url}/api/2.0/dbfs/read?path=/databricks/x&offset=5": (
        "a DBFS read URL takes exactly one 'path' parameter"
    ),
    "{url}/api/2.0/dbfs/read": "a DBFS read URL takes exactly one 'path' parameter",
    "{url}/api/2.0/dbfs/read?path=databricks/x": "its file path does not start with '/'",
    "{url}/api/2.0/dbfs/read?path=/databricks/../etc/passwd": (
        "it climbs out of its folder ('..')"
    ),
    "{url}/api/2.0/mlflow/registered-models/search": (
        "it is not a DBFS read URL (/api/2.0/dbfs/read?path=...) nor a Files API URL"
    ),
    "{url}/api/2.0/fs/files/Models/a/../../b": "it climbs out of its folder ('..')",
    "{url}/api/2.0/fs/files/Models/a/b?x=1": "a Files API URL takes no query",
    "http://user:pw@{netloc}/api/2.0/dbfs/read?path=/x": "it carries credentials",
    "dbfs://profile@databricks/databricks/x": "it names the workspace profile 'profile@databricks'",
    "dbfs:/databricks/x/": "it names no file",
    "dbfs:relative/x": "its file path does not start with '/'",
    "s3://bucket/model.pkl": ANY_DATABRICKS_URI,
    "runs:/abc/model.pkl": ANY_DATABRICKS_URI,
    "models:/testmodel2/latest/model.pkl": "a models URI reads models:/<name>/<version>/<file>",
    f"models:/{LOGGED_ID}/MLmodel": "a models URI reads models:/<name>/<version>/<file>",
    "models:/main.ml.churn/2/a\\b": "it contains a backslash or a NUL character",
}


@pytest.mark.parametrize("template", list(DATABRICKS_REFUSED))
def test_databricks_refusals_are_open_downloads_own(silent_port, template):
    _assert_refused_as_open_download_refuses(
        silent_port, template, DATABRICKS_REFUSED[template], _databricks, "Databricks"
    )


def test_databricks_check_path_agrees_with_open_download(standin):
    standin.throttle(0)
    connector = DatabricksConnector("azure dbx", standin.url, standin.token)
    paths = [
        f"dbfs:{DBFS_BIG}",
        f"{standin.url}/api/2.0/dbfs/read?path={DBFS_BIG}",
        f"dbfs:{WINE_TRACKING_ROOT}/model.pkl",
        f"{standin.url}/api/2.0/fs/files{UC_BIG}",
        "models:/testmodel2/1/data/weights/big.bin",
        "models:/main.ml.churn/2/data/big.bin",
        "models:/wine_quality/2/requirements.txt",
    ]
    _assert_check_path_agrees(connector, paths)


def _assert_check_path_agrees(connector: RegistryConnector, paths: list[str]) -> None:
    """``check_path`` tells of each path what opening its download tells (and closes the
    connector)."""
    try:
        for path in paths:
            download = connector.open_download(path)
            download.close()
            told = {**download.provenance, "file_name": download.file_name}
            assert connector.check_path(path) == told, path
    finally:
        connector.close()
