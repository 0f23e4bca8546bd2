"""Downloads from an offset against the Databricks stand-in: DBFS reads start at the offset,
the Files API and the signed URLs of run artifacts answer ``Range`` with 206, and a transfer
cut off halfway is finished by a second download from where the first one broke."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.databricks_standin import TESTMODEL_ROOT, WINE_TRACKING_ROOT
from support.registry_helpers import digest_download, read_download

from wallaroo_registry_ui.server.connectors.base import (
    ArtifactDownload,
    UpstreamBroken,
    is_retryable,
)
from wallaroo_registry_ui.server.connectors.databricks import DatabricksConnector

ONE_MB = 1 << 20
DBFS_BIG = f"{TESTMODEL_ROOT}/data/weights/big.bin"
UC_BIG = "/Models/main/ml/churn/2/data/big.bin"
TRACKING_FILE = f"{WINE_TRACKING_ROOT}/model.pkl"
TRACKING_BIG = f"{WINE_TRACKING_ROOT}/weights.bin"


@pytest.fixture(scope="module", autouse=True)
def _big_run_file(standin) -> None:
    """A run artifact of several MB, written into this module's own stand-in."""
    target = standin.local_path(TRACKING_BIG)
    target.write_bytes(random.Random(21).randbytes(3 * ONE_MB + 5))


@pytest.fixture
def connector(standin) -> Iterator[DatabricksConnector]:
    standin.throttle(0)
    standin.cut_downloads(0, count=0)
    con = DatabricksConnector("azure dbx", standin.url, standin.token)
    yield con
    con.close()


def _tail(path: Path, offset: int) -> tuple[str, int]:
    data = path.read_bytes()[offset:]
    return hashlib.sha256(data).hexdigest(), len(data)


def _digest(download: ArtifactDownload) -> tuple[str, int]:
    sha256, total, largest = digest_download(download)
    assert largest <= ONE_MB
    return sha256, total


@pytest.mark.parametrize("offset", [1, ONE_MB, ONE_MB + 3, 5 * ONE_MB + 12344])
def test_dbfs_reads_start_at_the_offset(connector, standin, offset):
    local = standin.local_path(DBFS_BIG)
    for path in (
        f"dbfs:{DBFS_BIG}",
        f"{standin.url}/api/2.0/dbfs/read?path={DBFS_BIG}",
        "models:/testmodel2/1/data/weights/big.bin",
    ):
        before = len(standin.calls("/api/2.0/dbfs/read"))
        download = connector.open_download(path, offset=offset)
        assert (download.offset, download.size) == (offset, standin.big_size), path
        assert _digest(download) == _tail(local, offset), path
        reads = standin.calls("/api/2.0/dbfs/read")[before:]
        starts = [int(r.query["offset"][0]) for r in reads]
        count = math.ceil((standin.big_size - offset) / ONE_MB)
        assert starts == [offset + i * ONE_MB for i in range(count)], path


def test_dbfs_at_the_end_reads_nothing_and_past_it_starts_over(connector, standin):
    before = len(standin.calls("/api/2.0/dbfs/read"))
    at_end = connector.open_download(f"dbfs:{DBFS_BIG}", offset=standin.big_size)
    assert (at_end.offset, at_end.size) == (standin.big_size, standin.big_size)
    assert read_download(at_end) == b""
    assert len(standin.calls("/api/2.0/dbfs/read")) == before
    past = connector.open_download(f"dbfs:{DBFS_BIG}", offset=standin.big_size + 1)
    assert (past.offset, past.size) == (0, standin.big_size)
    assert _digest(past) == (standin.big_sha256, standin.big_size)


@pytest.mark.parametrize("offset", [1, ONE_MB + 3, 5 * ONE_MB + 12344])
def test_files_api_downloads_take_a_range(connector, standin, offset):
    local = standin.local_path(UC_BIG, files_api=True)
    for open_it in (
        lambda: connector.open_download(f"{standin.url}/api/2.0/fs/files{UC_BIG}", offset=offset),
        lambda: connector.open_version_file("main.ml.churn", "2", "data/big.bin", offset=offset),
    ):
        before = len(standin.calls("/api/2.0/fs/files/"))
        download = open_it()
        assert (download.offset, download.size) == (offset, standin.big_size)
        assert _digest(download) == _tail(local, offset)
        asked = standin.calls("/api/2.0/fs/files/")[before:]
        assert [hit.range for hit in asked] == [f"bytes={offset}-"]


def test_files_api_at_the_end_reads_nothing_and_past_it_starts_over(connector, standin):
    """The Files API answers 416 to a range from the file's end on, or past it."""
    url = f"{standin.url}/api/2.0/fs/files{UC_BIG}"
    before = len(standin.calls("/api/2.0/fs/files/"))
    at_end = connector.open_download(url, offset=standin.big_size)
    assert (at_end.offset, at_end.size) == (standin.big_size, standin.big_size)
    assert read_download(at_end) == b""
    past = connector.open_download(url, offset=standin.big_size + 1)
    assert (past.offset, past.size) == (0, standin.big_size)
    assert _digest(past) == (standin.big_sha256, standin.big_size)
    asked = standin.calls("/api/2.0/fs/files/")[before:]
    assert [hit.range for hit in asked] == [
        f"bytes={standin.big_size}-",
        f"bytes={standin.big_size + 1}-",
        None,
    ]


def test_signed_urls_take_a_range_and_are_minted_anew(connector, standin):
    local = standin.local_path(TRACKING_FILE)
    signed_before = len(standin.calls("/api/2.0/mlflow/artifacts/credentials-for-read"))
    blobs_before = len(standin.blob_hits)
    for offset in (100, 2000):
        download = connector.open_download(f"dbfs:{TRACKING_FILE}", offset=offset)
        assert (download.offset, download.size) == (offset, local.stat().st_size)
        assert read_download(download) == local.read_bytes()[offset:]
    blobs = standin.blob_hits[blobs_before:]
    assert [hit.range for hit in blobs] == ["bytes=100-", "bytes=2000-"]
    assert all(hit.authorization is None for hit in blobs)
    assert blobs[0].query["sig"] != blobs[1].query["sig"]
    minted = standin.calls("/api/2.0/mlflow/artifacts/credentials-for-read")[signed_before:]
    assert len(minted) == 2


@pytest.mark.parametrize(
    "path",
    [f"{{url}}/api/2.0/fs/files{UC_BIG}", f"dbfs:{TRACKING_BIG}"],
    ids=["files api", "signed url"],
)
def test_a_cut_transfer_is_finished_from_where_it_broke(connector, standin, path):
    path = path.format(url=standin.url)
    whole = connector.open_download(path)
    expected_sha256, expected_size = _digest(whole)
    standin.cut_downloads(ONE_MB + 100)
    first = connector.open_download(path)
    received = bytearray()
    with pytest.raises(UpstreamBroken) as caught:
        for chunk in first.chunks:
            received += chunk
    first.close()
    assert is_retryable(caught.value)
    assert standin.token not in str(caught.value) and "'azure dbx'" in str(caught.value)
    assert 0 < len(received) <= ONE_MB + 100
    rest = connector.open_download(path, offset=len(received))
    assert (rest.offset, rest.size) == (len(received), expected_size)
    received += read_download(rest)
    assert (hashlib.sha256(received).hexdigest(), len(received)) == (
        expected_sha256,
        expected_size,
    )
