"""``models:/`` and ``runs:/`` URIs, read once in ``connectors/artifact_paths.py``, and how each
connector words its refusal of one it cannot read (before any request: nothing listens)."""

from __future__ import annotations

import pytest

from wallaroo_registry_ui.server.connectors.artifact_paths import (
    LoggedModelFile,
    RunFile,
    VersionFile,
    logged_model_uri,
    run_uri,
    version_file_uri,
)
from wallaroo_registry_ui.server.connectors.base import InvalidArtifactPath
from wallaroo_registry_ui.server.connectors.databricks import DatabricksConnector
from wallaroo_registry_ui.server.connectors.mlflow import MlflowConnector

DEAD = "http://127.0.0.1:9"
LOGGED_ID = "m-" + "0123456789abcdef" * 2


@pytest.mark.parametrize(
    "uri, parts",
    [
        ("models:/wine/3/MLmodel", VersionFile("wine", "3", "MLmodel")),
        ("models:/wine/3/data/x.bin", VersionFile("wine", "3", "data/x.bin")),
        ("models:/main.ml.churn/12/a", VersionFile("main.ml.churn", "12", "a")),
        ("models:/wine/3", VersionFile("wine", "3", "")),
        ("models:/wine/3/", VersionFile("wine", "3", "")),
        ("models:/wine/3/../../x", VersionFile("wine", "3", "../../x")),
        ("models:/a b/1/c d", VersionFile("a b", "1", "c d")),
        (f"models:/{LOGGED_ID}/7/f", VersionFile(LOGGED_ID, "7", "f")),
        ("models:/wine/latest/MLmodel", None),
        ("models:/wine/champion/MLmodel", None),
        ("models:/wine/-1/MLmodel", None),
        ("models:/wine", None),
        ("models://profile@databricks/wine/1/MLmodel", None),
        ("models:wine/1/MLmodel", None),
        ("runs:/abc/model", None),
        ("", None),
    ],
)
def test_version_file_uris(uri, parts):
    assert version_file_uri(uri) == parts


@pytest.mark.parametrize(
    "uri, parts",
    [
        (f"models:/{LOGGED_ID}", LoggedModelFile(LOGGED_ID, "")),
        (f"models:/{LOGGED_ID}/", LoggedModelFile(LOGGED_ID, "")),
        (f"models:/{LOGGED_ID}/MLmodel", LoggedModelFile(LOGGED_ID, "MLmodel")),
        (f"models:/{LOGGED_ID}/7/f", LoggedModelFile(LOGGED_ID, "7/f")),
        (f"models:/{LOGGED_ID.upper()}/MLmodel", None),
        (f"models:/{LOGGED_ID}0/MLmodel", None),
        ("models:/m-123/MLmodel", None),
        ("models:/wine/1/MLmodel", None),
        (f"runs:/{LOGGED_ID}/MLmodel", None),
    ],
)
def test_logged_model_uris(uri, parts):
    assert logged_model_uri(uri) == parts


@pytest.mark.parametrize(
    "uri, parts",
    [
        ("runs:/0a1b2c/model/MLmodel", RunFile("0a1b2c", "model/MLmodel")),
        ("runs:/run_id-1/", RunFile("run_id-1", "")),
        ("runs:/abc", RunFile("abc", "")),
        ("runs:/abc/../../etc/passwd", RunFile("abc", "../../etc/passwd")),
        ("runs:/not a run/x", None),
        ("runs:/a.b/x", None),
        ("runs://abc/x", None),
        ("runs:abc/x", None),
        ("models:/wine/1/x", None),
    ],
)
def test_run_uris(uri, parts):
    assert run_uri(uri) == parts


MLFLOW_MODELS_FORM = (
    "a models URI reads models:/<name>/<version>/<file path> or models:/m-<id>/<file path>"
)
DATABRICKS_MODELS_FORM = "a models URI reads models:/<name>/<version>/<file>"


@pytest.mark.parametrize(
    "path, reason",
    [
        ("models:/wine/latest/MLmodel", MLFLOW_MODELS_FORM),
        ("models:wine/1/MLmodel", MLFLOW_MODELS_FORM),
        ("models://profile@databricks/wine/1/MLmodel", MLFLOW_MODELS_FORM),
        ("models:/wine/1/", "it names no file"),
        ("models:/wine/1/../../etc/passwd", "it climbs out of its folder ('..')"),
        (f"models:/{LOGGED_ID}", "it names no file"),
        (f"models:/{LOGGED_ID}/a//b", "it has an empty or '.' segment"),
        ("runs:/not a run/x", "a runs URI reads runs:/<run_id>/<file path>"),
        ("runs:abc/x", "a runs URI reads runs:/<run_id>/<file path>"),
        ("runs:/abc/../../etc/passwd", "it climbs out of its folder ('..')"),
    ],
)
def test_mlflow_refusals(path, reason):
    connector = MlflowConnector("local mlflow", DEAD)
    with pytest.raises(InvalidArtifactPath) as caught:
        connector.open_download(path)
    assert (
        str(caught.value)
        == f"path {path!r} is not a file of MLflow registry 'local mlflow': {reason}"
    )


@pytest.mark.parametrize(
    "path, reason",
    [
        ("models:/wine/latest/MLmodel", DATABRICKS_MODELS_FORM),
        (f"models:/{LOGGED_ID}/MLmodel", DATABRICKS_MODELS_FORM),
        ("models://profile@databricks/wine/1/MLmodel", DATABRICKS_MODELS_FORM),
        ("models:/wine/1/", "it names no file"),
        ("models:/main.ml.churn/2/a\\b", "it contains a backslash or a NUL character"),
        (
            "runs:/abc/model.pkl",
            "only this workspace's DBFS read and Files API URLs, and dbfs:/ and models:/ URIs "
            "are accepted",
        ),
    ],
)
def test_databricks_refusals(path, reason):
    connector = DatabricksConnector("azure dbx", DEAD, "dapi-token-000")
    with pytest.raises(InvalidArtifactPath) as caught:
        connector.open_download(path)
    assert str(caught.value) == (
        f"path {path!r} is not a file of Databricks registry 'azure dbx': {reason}"
    )
