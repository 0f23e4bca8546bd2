"""Downloads from an offset against a real MLflow server: its artifact proxy answers ``Range``
with 206, so the bytes from the offset on are the tail of the file MLflow's own client
downloads, and ``size`` stays the whole file's."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from mlflow import MlflowClient
from support.registry_helpers import digest_download, mlflow_file, read_download

from wallaroo_registry_ui.server.connectors.mlflow import MlflowConnector

ONE_MIB = 1 << 20


@pytest.fixture(scope="module")
def connector(mlflow_seed) -> Iterator[MlflowConnector]:
    con = MlflowConnector("local mlflow", mlflow_seed.url)
    yield con
    con.close()


@pytest.fixture(scope="module")
def big_file(mlflow_seed, tmp_path_factory) -> Path:
    """The seeded large file as MLflow's own client downloads it."""
    large = mlflow_seed.large_file
    target = tmp_path_factory.mktemp("mlflow-big")
    where = (large.model_name, large.version, large.relative_path)
    return mlflow_file(mlflow_seed.url, *where, target)


def _tail_sha256(path: Path, offset: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        handle.seek(offset)
        for block in iter(lambda: handle.read(ONE_MIB), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _big_file_paths(connector: MlflowConnector, mlflow_seed) -> list[str]:
    large = mlflow_seed.large_file
    name, version, rel = large.model_name, large.version, large.relative_path
    items = connector.list_artifacts(name, version)
    full_path = next(i["full_path"] for i in items if i["relative_path"] == rel)
    client = MlflowClient(tracking_uri=mlflow_seed.url)
    proxy_rel = client.get_model_version_download_uri(name, version).split(":/", 1)[1]
    return [
        full_path,
        f"models:/{name}/{version}/{rel}",
        f"mlflow-artifacts:/{proxy_rel}/{rel}",
        f"{mlflow_seed.url}/api/2.0/mlflow-artifacts/artifacts/{proxy_rel}/{rel}",
    ]


def test_the_artifact_proxy_answers_a_range_with_206(mlflow_seed):
    client = MlflowClient(tracking_uri=mlflow_seed.url)
    large = mlflow_seed.large_file
    proxy_rel = client.get_model_version_download_uri(large.model_name, large.version)
    url = (
        f"{mlflow_seed.url}/api/2.0/mlflow-artifacts/artifacts/"
        f"{proxy_rel.split(':/', 1)[1]}/{large.relative_path}"
    )
    answer = requests.get(url, headers={"Range": "bytes=10-"}, timeout=30, stream=True)
    answer.close()
    assert answer.status_code == 206
    assert answer.headers["Content-Range"] == f"bytes 10-{large.size - 1}/{large.size}"


@pytest.mark.parametrize("offset", [1, ONE_MIB + 7, 40 * ONE_MIB - 1])
def test_every_path_form_resumes_at_the_offset(connector, mlflow_seed, big_file, offset):
    large = mlflow_seed.large_file
    assert large.size == 40 * ONE_MIB
    expected = _tail_sha256(big_file, offset)
    for path in _big_file_paths(connector, mlflow_seed):
        download = connector.open_download(path, offset=offset)
        assert download.offset == offset, path
        assert download.size == large.size, path
        sha256, total, largest = digest_download(download)
        assert (sha256, total) == expected, path
        assert largest <= ONE_MIB


def test_a_version_file_resumes_at_the_offset(connector, mlflow_seed, big_file):
    large = mlflow_seed.large_file
    download = connector.open_version_file(
        large.model_name, large.version, large.relative_path, offset=12345
    )
    assert (download.offset, download.size) == (12345, large.size)
    sha256, total, _ = digest_download(download)
    assert (sha256, total) == _tail_sha256(big_file, 12345)


def test_a_small_file_from_an_offset(connector, mlflow_seed):
    name, version = mlflow_seed.nested_model, mlflow_seed.nested_version
    readme = requests.get(
        f"{mlflow_seed.url}/model-versions/get-artifact",
        params={"name": name, "version": version, "path": "README.md"},
        timeout=30,
    ).content
    download = connector.open_download(f"models:/{name}/{version}/README.md", offset=5)
    assert (download.offset, download.size) == (5, len(readme))
    assert read_download(download) == readme[5:]


def test_an_offset_at_the_end_leaves_nothing_to_read(connector, mlflow_seed):
    """MLflow answers 416 with ``Content-Range: bytes */<size>``: every byte is there."""
    large = mlflow_seed.large_file
    path = f"models:/{large.model_name}/{large.version}/{large.relative_path}"
    download = connector.open_download(path, offset=large.size)
    assert (download.offset, download.size) == (large.size, large.size)
    assert read_download(download) == b""


@pytest.mark.parametrize("past", [1, 1000])
def test_an_offset_past_the_end_starts_over(connector, mlflow_seed, past):
    """The file is shorter than what was kept of it: the whole file comes again."""
    large = mlflow_seed.large_file
    path = f"models:/{large.model_name}/{large.version}/{large.relative_path}"
    download = connector.open_download(path, offset=large.size + past)
    assert (download.offset, download.size) == (0, large.size)
    sha256, total, _ = digest_download(download)
    assert (sha256, total) == (large.sha256, large.size)


def test_no_offset_is_the_whole_file(connector, mlflow_seed):
    large = mlflow_seed.large_file
    download = connector.open_download(
        f"models:/{large.model_name}/{large.version}/{large.relative_path}"
    )
    assert (download.offset, download.size) == (0, large.size)
    sha256, total, _ = digest_download(download)
    assert (sha256, total) == (large.sha256, large.size)


def test_a_negative_offset_is_refused(connector, mlflow_seed):
    large = mlflow_seed.large_file
    with pytest.raises(ValueError, match="offset must not be negative"):
        connector.open_download(
            f"models:/{large.model_name}/{large.version}/{large.relative_path}", offset=-1
        )
