"""DatabricksConnector against the Databricks stand-in (tests/databricks_standin.py), over HTTP."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from support.api_samples import RM_KEYS
from support.databricks_standin import (
    GENERATED_WMR,
    MANY_VERSIONS,
    TESTMODEL_ROOT,
    WINE_TRACKING_ROOT,
    WINE_V2_ALIASES,
    DatabricksStandIn,
)
from support.registry_helpers import digest_download, read_download

from wallaroo_registry_ui.contract import MODEL_VERSION_KEYS as MV_KEYS
from wallaroo_registry_ui.server.connectors import (
    databricks,
    guess_kind,
    open_connector,
    url_problem,
)
from wallaroo_registry_ui.server.connectors.base import (
    InvalidArtifactPath,
    RegistryNotFound,
    UpstreamError,
)
from wallaroo_registry_ui.server.connectors.databricks import DatabricksConnector
from wallaroo_registry_ui.server.connectors.databricks_files import DbfsFiles, walk
from wallaroo_registry_ui.server.connectors.http import RegistryHttp
from wallaroo_registry_ui.server.connectors.mlflow_rest import version_aliases

ONE_MB = 1 << 20


@pytest.fixture
def connector(standin) -> Iterator[DatabricksConnector]:
    standin.throttle(0)
    con = DatabricksConnector("azure dbx", standin.url, standin.token)
    yield con
    con.close()


def _all_pages(con: DatabricksConnector, page_size: int, **kwargs) -> list[list[dict]]:
    pages, token = [], None
    while True:
        page = con.list_models(max_results=page_size, page_token=token, **kwargs)
        pages.append(page.items)
        token = page.next_page_token
        if not token:
            return pages


def _all_names(standin: DatabricksStandIn) -> set[str]:
    return set(standin.wmr) | set(standin.uc)


# --- kinds --------------------------------------------------------------------------------


def test_workspace_hosts_are_databricks():
    for host in (
        "https://adb-5939996465837398.18.azuredatabricks.net",
        "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com",
        "https://1234567890123456.7.gcp.databricks.com/",
    ):
        assert guess_kind(host) == "databricks"
        assert url_problem(host) is None
    assert guess_kind("https://mlflow.example.com") == "mlflow"
    assert "without a path" in url_problem("https://adb-1.2.azuredatabricks.net/browse/folders")
    con = open_connector("databricks", "dbx", "http://127.0.0.1:9", "t")
    assert isinstance(con, DatabricksConnector) and con.kind == "databricks"


# --- models -------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1000, 137])
def test_every_model_once_across_pages(connector, standin, page_size):
    pages = _all_pages(connector, page_size)
    names = [item["name"] for page in pages for item in page]
    assert len(names) == len(set(names))
    assert set(names) == _all_names(standin)
    assert all(pages[:-1]), "an empty page came back while more were to come"
    assert all(len(page) <= page_size for page in pages)
    assert len(pages) >= math.ceil(GENERATED_WMR / page_size) + 1
    for hit in standin.calls("/api/2.0/mlflow/registered-models/search"):
        assert int(hit.query["max_results"][0]) <= 1000


def test_empty_catalog_pages_are_followed(connector, standin):
    before = len(standin.calls("/api/2.1/unity-catalog/models"))
    pages = _all_pages(connector, 1000)
    uc_calls = len(standin.calls("/api/2.1/unity-catalog/models")) - before
    uc_pages = [page for page in pages if page and "." in page[0]["name"]]
    assert uc_calls == len(standin.uc_shards)
    assert len(uc_pages) == 2
    assert [m["name"] for m in uc_pages[-1]] == ["dev.sandbox.experiment"]


def test_too_many_empty_pages_are_passed_through(connector, standin, monkeypatch):
    monkeypatch.setattr(databricks, "MAX_EMPTY_PAGES", 1)
    pages = _all_pages(connector, 1000)
    names = [item["name"] for page in pages for item in page]
    assert set(names) == _all_names(standin) and len(names) == len(set(names))
    assert [] in pages[:-1]


def test_model_shapes(connector, standin):
    items = [item for page in _all_pages(connector, 1000) for item in page]
    by_name = {item["name"]: item for item in items}
    assert all(set(item) == RM_KEYS for item in items)
    wine = by_name["wine_quality"]
    assert {v["version"]: v["current_stage"] for v in wine["latest_versions"]} == {
        "1": "Archived",
        "2": "Production",
    }
    for version in wine["latest_versions"]:
        assert list(version) == list(MV_KEYS)
        assert version["source"].startswith("dbfs:/databricks/mlflow-tracking/")
    assert by_name["testmodel2"]["tags"] == [{"key": "team", "value": "ml"}]
    assert by_name["wmr-model-0000"]["latest_versions"] is None
    churn = by_name["main.ml.churn"]
    assert churn["aliases"] == [
        {"alias": "champion", "version": "2"},
        {"alias": "challenger", "version": "3"},
    ]
    assert churn["description"] == "Churn classifier"
    assert churn["latest_versions"] is None
    assert churn["user_id"] == "alice@example.com"
    assert isinstance(churn["creation_timestamp"], int)


def test_filters_and_order(connector):
    churn = _all_pages(connector, 1000, filter="name LIKE '%churn%'")
    assert [m["name"] for page in churn for m in page] == ["main.ml.churn"]
    wine = _all_pages(connector, 1000, filter="name ILIKE '%WINE%'")
    assert [m["name"] for page in wine for m in page] == ["wine_quality"]
    exact = _all_pages(connector, 1000, filter="name = 'dev.sandbox.experiment'")
    assert [m["name"] for page in exact for m in page] == ["dev.sandbox.experiment"]
    first = connector.list_models(max_results=3, order_by=["name DESC"])
    assert [m["name"] for m in first.items] == [
        "wmr-model-1204",
        "wmr-model-1203",
        "wmr-model-1202",
    ]


def test_bad_filter_is_an_upstream_400(connector):
    with pytest.raises(UpstreamError) as caught:
        connector.list_models(max_results=10, filter="tags.team = 'ml'")
    assert caught.value.status == 400 and "INVALID_PARAMETER_VALUE" in str(caught.value)


# --- versions -----------------------------------------------------------------------------


def test_workspace_versions_page_by_page(connector):
    seen, token, pages = [], None, 0
    while True:
        page = connector.list_versions("many_versions", max_results=500, page_token=token)
        seen += [v["version"] for v in page.items]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert seen == [str(v) for v in range(MANY_VERSIONS, 0, -1)]
    first = connector.list_versions("wine_quality", max_results=10, extended=True).items
    assert [(v["version"], v["current_stage"]) for v in first] == [
        ("2", "Production"),
        ("1", "Archived"),
    ]
    assert first[1]["aliases"] == [] and first[1]["tags"] == [{"key": "validated", "value": "yes"}]
    plain = connector.list_versions("wine_quality", max_results=10).items
    assert all(list(v) == list(MV_KEYS) for v in plain)


def test_workspace_version_aliases_pass_through_when_extended(connector, standin):
    hits = len(standin.calls("/api/2.0/mlflow/model-versions/search"))
    extended = connector.list_versions("wine_quality", max_results=10, extended=True).items
    by_version = {v["version"]: v for v in extended}
    assert by_version["2"]["aliases"] == list(WINE_V2_ALIASES) == ["champion", "current"]
    assert by_version["1"]["aliases"] == []
    assert all(list(v) == [*MV_KEYS, "aliases", "tags"] for v in extended)
    plain = connector.list_versions("wine_quality", max_results=10).items
    assert [v["version"] for v in plain] == ["2", "1"]
    assert all(list(v) == list(MV_KEYS) for v in plain)
    assert len(standin.calls("/api/2.0/mlflow/model-versions/search")) == hits + 2


def test_version_aliases_accept_mlflows_shapes():
    assert version_aliases(None) == [] and version_aliases([]) == []
    assert version_aliases(["champion", "b"]) == ["champion", "b"]
    assert version_aliases([{"alias": "champion", "version": "2"}]) == ["champion"]
    assert version_aliases(["", None, 3, {"version": "1"}, "ok"]) == ["ok"]


def test_catalog_versions_have_aliases_and_no_stage(connector):
    versions, token = [], None
    while True:
        page = connector.list_versions(
            "main.ml.churn", max_results=1, page_token=token, extended=True
        )
        versions += page.items
        token = page.next_page_token
        if not token:
            break
    assert [v["version"] for v in versions] == ["3", "2", "1"]
    assert {v["version"]: v["aliases"] for v in versions} == {
        "3": ["challenger"],
        "2": ["champion"],
        "1": [],
    }
    assert {v["current_stage"] for v in versions} == {"None"}
    assert {v["name"] for v in versions} == {"main.ml.churn"}
    assert versions[0]["status"] == "READY" and versions[0]["description"] == "version 3"
    assert set(versions[0]) == {*MV_KEYS, "aliases", "tags"}


def test_unknown_models_and_versions(connector):
    """Told by the registry's error code, never by repeating its message."""
    with pytest.raises(RegistryNotFound, match=r"does not exist \(RESOURCE_DOES_NOT_EXIST\)$"):
        connector.list_versions("no_such_model", max_results=10)
    with pytest.raises(RegistryNotFound, match=r"HTTP 404: "):
        connector.list_versions("main.ml.nothing", max_results=10)
    with pytest.raises(RegistryNotFound, match=r"HTTP 404: "):
        connector.list_artifacts("testmodel2", "9")
    with pytest.raises(RegistryNotFound):
        connector.list_artifacts("main.ml.churn", "9")


def test_permission_denied_is_not_a_rejected_token(connector):
    with pytest.raises(UpstreamError) as caught:
        connector.list_versions("dev.restricted.secret", max_results=10)
    assert caught.value.status == 403
    assert "PERMISSION_DENIED" in str(caught.value)
    assert "rejected the token" not in str(caught.value)


# --- artifacts ----------------------------------------------------------------------------


def test_nested_dbfs_folders_are_listed(connector, standin):
    before = len(standin.hits)
    items = connector.list_artifacts("testmodel2", "1")
    listed = {a["relative_path"]: (a["is_dir"], a["file_size"]) for a in items}
    assert listed == standin.tree(TESTMODEL_ROOT)
    assert "data/weights/layer0/deeper/kernel.npy" in listed and "data/empty" in listed
    for item in items:
        assert item["path"] == f"{TESTMODEL_ROOT}/{item['relative_path']}"
        assert item["full_path"] == f"{standin.url}/api/2.0/dbfs/read?path={item['path']}"
        assert isinstance(item["modification_time"], int)
    assert [a["relative_path"] for a in items] == sorted(listed)
    paths = [hit.path for hit in standin.hits[before:]]
    assert set(paths) == {
        "/api/2.0/mlflow/model-versions/get-download-uri",
        "/api/2.0/dbfs/list",
    }
    assert paths.count("/api/2.0/dbfs/list") == 1 + sum(d for d, _ in listed.values())


def test_listing_a_file_returns_the_file_and_does_not_loop(standin):
    http = RegistryHttp("dbx", standin.url, standin.token)
    store = DbfsFiles(http)
    model_file = f"{TESTMODEL_ROOT}/model.pkl"
    assert [e.path for e in store.list_dir(model_file)] == [model_file]
    assert walk(store, model_file, "dbx") == []


def test_tracking_run_files_are_listed_through_mlflow(connector, standin):
    before = len(standin.hits)
    items = connector.list_artifacts("wine_quality", "2")
    listed = {a["relative_path"]: (a["is_dir"], a["file_size"]) for a in items}
    assert listed == standin.tree(WINE_TRACKING_ROOT)
    for item in items:
        assert item["path"] == f"{WINE_TRACKING_ROOT}/{item['relative_path']}"
        assert item["full_path"] == f"dbfs:{item['path']}"
        assert item["modification_time"] is None
    new = standin.hits[before:]
    assert not [h for h in new if h.path.startswith("/api/2.0/dbfs/")]
    listings = [h for h in new if h.path == "/api/2.0/mlflow/artifacts/list"]
    assert any("page_token" in h.query for h in listings)


def test_catalog_files_are_listed_through_the_files_api(connector, standin):
    items = connector.list_artifacts("main.ml.churn", "2")
    root = "/Models/main/ml/churn/2"
    listed = {a["relative_path"]: (a["is_dir"], a["file_size"]) for a in items}
    assert listed == standin.tree(root, files_api=True)
    assert "artifacts/tokenizer/vocab.txt" in listed
    for item in items:
        assert item["path"] == f"{root}/{item['relative_path']}"
        assert item["full_path"] == f"{standin.url}/api/2.0/fs/files{item['path']}"
        assert (item["modification_time"] is None) == item["is_dir"]
    assert any("page_token" in h.query for h in standin.calls("/api/2.0/fs/directories/"))


def test_big_dbfs_file_streams_in_1mb_reads(connector, standin):
    big = f"{TESTMODEL_ROOT}/data/weights/big.bin"
    full_path = f"{standin.url}/api/2.0/dbfs/read?path={big}"
    for path in (full_path, f"dbfs:{big}", "models:/testmodel2/1/data/weights/big.bin"):
        before = len(standin.calls("/api/2.0/dbfs/read"))
        download = connector.open_download(path)
        assert download.size == standin.big_size and download.file_name == "big.bin"
        sha256, total, largest = digest_download(download)
        assert sha256 == standin.big_sha256 and total == standin.big_size
        assert largest <= ONE_MB
        reads = standin.calls("/api/2.0/dbfs/read")[before:]
        assert len(reads) == math.ceil(standin.big_size / ONE_MB)
        assert [int(r.query["offset"][0]) for r in reads] == [i * ONE_MB for i in range(len(reads))]
        assert all(int(r.query["length"][0]) <= ONE_MB for r in reads)
    assert download.provenance["model_name"] == "testmodel2"


def test_dbfs_rejects_reads_over_1mb_and_is_not_retried(standin):
    http = RegistryHttp("dbx", standin.url, standin.token)
    before = len(standin.calls("/api/2.0/dbfs/read"))
    with pytest.raises(UpstreamError) as caught:
        http.get_json(
            "/api/2.0/dbfs/read",
            {"path": f"{TESTMODEL_ROOT}/model.pkl", "offset": 0, "length": ONE_MB + 1},
        )
    assert caught.value.status == 400 and "MAX_READ_SIZE_EXCEEDED" in str(caught.value)
    assert len(standin.calls("/api/2.0/dbfs/read")) == before + 1


def test_catalog_file_download_streams(connector, standin):
    download = connector.open_download(
        f"{standin.url}/api/2.0/fs/files/Models/main/ml/churn/2/data/big.bin"
    )
    assert download.size == standin.big_size
    assert download.provenance == {
        "model_name": "main.ml.churn",
        "model_version": "2",
        "path": "/Models/main/ml/churn/2/data/big.bin",
    }
    sha256, total, largest = digest_download(download)
    assert sha256 == standin.big_sha256 and total == standin.big_size and largest <= ONE_MB


def test_tracking_file_download_goes_through_a_signed_url(connector, standin):
    path = f"dbfs:{WINE_TRACKING_ROOT}/metadata/input_example.json"
    before = len(standin.blob_hits)
    data = read_download(connector.open_download(path))
    assert (
        data == standin.local_path(f"{WINE_TRACKING_ROOT}/metadata/input_example.json").read_bytes()
    )
    blob = standin.blob_hits[before:]
    assert len(blob) == 1 and blob[0].authorization is None
    with pytest.raises(InvalidArtifactPath, match="is a folder"):
        connector.open_download(f"dbfs:{WINE_TRACKING_ROOT}/metadata")


def test_version_files_for_previews(connector, standin):
    assert read_download(connector.open_version_file("main.ml.churn", "3", "MLmodel")) == (
        b"artifact_path: model\n"
    )
    vocab = "artifacts/tokenizer/vocab.txt"  # a file that differs from version to version
    for version in ("2", "3"):
        local = standin.local_path(f"/Models/main/ml/churn/{version}/{vocab}", files_api=True)
        opened = connector.open_version_file("main.ml.churn", version, vocab)
        assert read_download(opened) == local.read_bytes(), version
    assert read_download(connector.open_version_file("testmodel2", "1", "code/module.py")) == (
        standin.local_path(f"{TESTMODEL_ROOT}/code/module.py").read_bytes()
    )
    assert read_download(connector.open_version_file("wine_quality", "2", "requirements.txt")) == (
        b"scikit-learn\n"
    )
    with pytest.raises(InvalidArtifactPath):
        connector.open_version_file("testmodel2", "1", "../../other/model.pkl")
    with pytest.raises(InvalidArtifactPath, match="is a folder"):
        connector.open_version_file("testmodel2", "1", "data")


@pytest.mark.parametrize(
    "template",
    [
        "http://example.com/api/2.0/dbfs/read?path=/databricks/x",
        "{other}/api/2.0/dbfs/read?path=/databricks/x",
        "{url}/api/2.0/dbfs/read?path=/databricks/x&offset=5",
        "{url}/api/2.0/dbfs/read?path=databricks/x",
        "{url}/api/2.0/dbfs/read?path=/databricks/../etc/passwd",
        "{url}/api/2.0/dbfs/read",
        "{url}/api/2.0/mlflow/registered-models/search",
        "{url}/api/2.0/fs/files/Models/a/../../b",
        "{url}/api/2.0/fs/files/Models/a/b?x=1",
        "http://user:pw@{host}/api/2.0/dbfs/read?path=/x",
        "dbfs://profile@databricks/databricks/x",
        "dbfs:/databricks/x/",
        "dbfs:relative/x",
        "s3://bucket/model.pkl",
        "file:///etc/passwd",
        "models:/testmodel2/latest/model.pkl",
        "",
    ],
)
def test_bad_paths_are_refused_before_any_request(connector, standin, template):
    host = standin.url.removeprefix("http://")
    path = template.format(url=standin.url, host=host, other="http://127.0.0.1:1")
    before = (len(standin.hits), len(standin.blob_hits))
    with pytest.raises(InvalidArtifactPath) as caught:
        connector.open_download(path)
    assert (len(standin.hits), len(standin.blob_hits)) == before
    assert "azure dbx" in str(caught.value)


# --- auth and throttling --------------------------------------------------------------------


def test_bad_token_is_a_clear_error_and_is_not_retried(standin):
    for token, says in (("dapi-wrong-token-000", "connect the registry again"), ("", "without")):
        before = len(standin.hits)
        con = DatabricksConnector("azure dbx", standin.url, token)
        with pytest.raises(UpstreamError) as caught:
            con.list_models(max_results=10)
        message = str(caught.value)
        assert caught.value.status == 403 and not isinstance(caught.value, RegistryNotFound)
        rejected = "the registry rejected the token" if token else "the registry asks for a token"
        assert message.startswith(f"registry 'azure dbx' answered HTTP 403: {rejected}; ")
        assert "Invalid access token" not in message
        assert says in message and "Access tokens" in message
        assert len(standin.hits) == before + 1
        if token:
            assert token not in message and standin.token not in message


def test_signed_url_refusal_is_not_blamed_on_the_token(standin):
    http = RegistryHttp("dbx", standin.url, standin.token, rejected_token_hint="renew it")
    with pytest.raises(UpstreamError) as caught:
        http.get_json(f"{standin.blob_url}/container/x?sig=expired")
    assert caught.value.status == 403 and "rejected the token" not in str(caught.value)


def test_throttling_is_honoured(connector, standin, caplog):
    for retry_after, status, least in (("1", 429, 2.0), (None, 503, 2.0)):
        standin.throttle(2, retry_after, status)
        started = time.monotonic()
        with caplog.at_level(logging.INFO):
            page = connector.list_versions("wine_quality", max_results=10)
        elapsed = time.monotonic() - started
        assert [v["version"] for v in page.items] == ["2", "1"]
        assert least <= elapsed < least + 2
    assert "retrying in 1." in caplog.text
    assert standin.token not in caplog.text


def test_throttling_is_bounded(standin):
    standin.throttle(1000, "120")
    con = DatabricksConnector("azure dbx", standin.url, standin.token)
    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        con.list_models(max_results=10)
    # Waiting up to the 30 s bound would be pointless: it gives up at once.
    assert caught.value.status == 429 and time.monotonic() - started < 10
    standin.throttle(1000, "1")
    con = DatabricksConnector(
        "azure dbx", standin.url, standin.token, max_retry_seconds=10, total_retry_seconds=2.5
    )
    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        con.list_models(max_results=10)
    assert caught.value.status == 429 and 2 <= time.monotonic() - started < 4
    standin.throttle(0)


def test_token_goes_only_to_the_workspace(connector, standin):
    before = (len(standin.hits), len(standin.blob_hits))
    data = read_download(connector.open_download(f"dbfs:{WINE_TRACKING_ROOT}/MLmodel"))
    assert data == standin.local_path(f"{WINE_TRACKING_ROOT}/MLmodel").read_bytes()
    workspace, blob = standin.hits[before[0] :], standin.blob_hits[before[1] :]
    assert workspace and {h.authorization for h in workspace} == {f"Bearer {standin.token}"}
    assert len(blob) == 1 and blob[0].authorization is None


def test_odd_names_are_quoted(connector, standin):
    odd = "/databricks/mlflow-registry/odd/models/a b&c#d/model file.pkl"
    target = standin.local_path(odd)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"odd bytes")
    url = f"{standin.url}/api/2.0/dbfs/read?path={quote(odd, safe='/')}"
    assert read_download(connector.open_download(url)) == b"odd bytes"
    assert read_download(connector.open_download(f"dbfs:{odd}")) == b"odd bytes"
