"""A Databricks registry through the real service and RegistryClient, beside an MLflow one."""

from __future__ import annotations

import time

import pytest
from support.databricks_standin import TESTMODEL_ROOT, WINE_TRACKING_ROOT
from support.registry_helpers import artifact_named, file_sha256

from wallaroo_registry_ui.client.errors import BadRequest, NotFound, UpstreamFailed

BAD_TOKEN = "dapi-revoked-token-5a5a5a5a5a5a"


@pytest.fixture(scope="module")
def databricks_registry(alice, team_workspace, standin) -> str:
    """Alice's connection to the stand-in workspace, attached to her workspace."""
    return alice.client.create_registry(
        "azure databricks",
        standin.url,
        token=standin.token,
        workspace_id=team_workspace,
        kind="databricks",
    )


@pytest.fixture(autouse=True)
def _no_throttling(standin):
    standin.throttle(0)
    yield
    standin.throttle(0)


def test_registry_kind_and_masked_token(registry_service, alice, databricks_registry, standin):
    registry = alice.client.get_registry(databricks_registry)
    assert registry.kind == "databricks"
    assert registry.url == standin.url
    raw = registry_service.post(
        alice.token, "models/get_registry", {"registry_id": databricks_registry}
    )
    assert raw.json()["kind"] == "databricks"
    assert standin.token not in raw.text and raw.json()["token"]
    guessed = alice.client.create_registry(
        "guessed", "https://adb-5939996465837398.18.azuredatabricks.net", token="dapi-x-1"
    )
    assert alice.client.get_registry(guessed).kind == "databricks"
    with pytest.raises(BadRequest, match="without a path"):
        alice.client.create_registry(
            "with path", "https://adb-1.2.azuredatabricks.net/ml/models", token="dapi-x-2"
        )


def test_both_registries_side_by_side(
    registry_service, alice, team_workspace, databricks_registry, mlflow_registry, mlflow_seed
):
    registries = {r.id: r for r in alice.client.list_registries(team_workspace)}
    assert registries[databricks_registry].kind == "databricks"
    assert registries[mlflow_registry].kind == "mlflow"
    picks = {
        mlflow_registry: (mlflow_seed.nested_model, mlflow_seed.nested_version),
        databricks_registry: ("testmodel2", "1"),
    }
    for registry, (model, version) in picks.items():
        page = alice.client.list_registry_models(registry, max_results=50)
        assert page.registered_models and page.next_page_token
        versions = alice.client.list_model_versions(registry, model).model_versions
        assert version in {v.version for v in versions}
        files = [a for a in alice.client.list_artifacts(registry, model, version) if not a.is_dir]
        small = min(files, key=lambda a: a.file_size or 0)
        model_id = alice.client.upload_from_registry(
            registry,
            name=f"side-by-side-{registries[registry].kind}",
            path=small.full_path,
            workspace_id=team_workspace,
            framework="custom",
            model_name=model,
            model_version=version,
        )
        uploaded = alice.client.get_model_version(model_id)
        assert uploaded.status == "ready" and uploaded.size == small.file_size
        assert uploaded.source_registry_id == registry


def test_listing_across_pages(alice, databricks_registry, standin):
    names, token, pages = [], None, 0
    while True:
        page = alice.client.list_registry_models(
            databricks_registry, page_token=token, max_results=250
        )
        pages += 1
        names += [m.name for m in page.registered_models]
        token = page.next_page_token
        assert page.registered_models or not token
        if not token:
            break
    assert pages >= 6
    assert len(names) == len(set(names))
    assert set(names) == set(standin.wmr) | set(standin.uc)
    everything = list(alice.client.iter_registry_models(databricks_registry))
    assert {m.name for m in everything} == set(names)


def test_versions_stages_and_aliases(alice, databricks_registry):
    churn = alice.client.list_model_versions(databricks_registry, "main.ml.churn").model_versions
    assert [(v.version, v.current_stage, v.aliases) for v in churn] == [
        ("3", "None", ["challenger"]),
        ("2", "None", ["champion"]),
        ("1", "None", []),
    ]
    wine = alice.client.list_model_versions(databricks_registry, "wine_quality").model_versions
    assert {v.version: v.current_stage for v in wine} == {"1": "Archived", "2": "Production"}
    page = alice.client.list_registry_models(databricks_registry, filter="name LIKE '%churn%'")
    models = list(page.registered_models)
    while page.next_page_token:
        page = alice.client.list_registry_models(
            databricks_registry, filter="name LIKE '%churn%'", page_token=page.next_page_token
        )
        models += page.registered_models
    assert [(m.name, m.aliases) for m in models] == [
        ("main.ml.churn", {"champion": "2", "challenger": "3"})
    ]


def test_nested_dbfs_artifacts(alice, databricks_registry, standin):
    artifacts = alice.client.list_artifacts(databricks_registry, "testmodel2", "1")
    assert {a.relative_path: (a.is_dir, a.file_size) for a in artifacts} == standin.tree(
        TESTMODEL_ROOT
    )
    kernel = next(a for a in artifacts if a.relative_path.endswith("deeper/kernel.npy"))
    assert kernel.path == f"{TESTMODEL_ROOT}/data/weights/layer0/deeper/kernel.npy"
    assert kernel.full_path == f"{standin.url}/api/2.0/dbfs/read?path={kernel.path}"
    assert isinstance(kernel.modification_time, int)
    catalog = alice.client.list_artifacts(databricks_registry, "main.ml.churn", "2")
    assert "artifacts/tokenizer/vocab.txt" in {a.relative_path for a in catalog}


def test_multi_megabyte_upload_is_byte_identical(
    registry_service, alice, team_workspace, databricks_registry, standin
):
    big = artifact_named(
        alice.client, databricks_registry, "testmodel2", "1", "data/weights/big.bin"
    )
    assert big.file_size == standin.big_size > 5_000_000
    before = len(standin.calls("/api/2.0/dbfs/read"))
    model_id = alice.client.upload_from_registry(
        databricks_registry,
        name="dbx-big-weights",
        path=big.full_path,
        workspace_id=team_workspace,
        framework="custom",
        model_name="testmodel2",
        model_version="1",
    )
    version = alice.client.get_model_version(model_id)
    assert version.sha == standin.big_sha256 and version.size == standin.big_size
    assert (version.source_model_name, version.source_version) == ("testmodel2", "1")
    stored = next((registry_service.data_dir / "artifacts").rglob(f"{version.version}/big.bin"))
    assert file_sha256(stored) == standin.big_sha256
    reads = standin.calls("/api/2.0/dbfs/read")[before:]
    assert reads and all(int(r.query["length"][0]) <= 1 << 20 for r in reads)


@pytest.mark.parametrize(
    ("path", "files_api", "source"),
    [
        (
            "{url}/api/2.0/fs/files/Models/main/ml/churn/2/data/big.bin",
            True,
            ("main.ml.churn", "2"),
        ),
        # A run's file belongs to no registered version: nothing to record but the path.
        (f"dbfs:{WINE_TRACKING_ROOT}/metadata/input_example.json", False, ("", "")),
    ],
)
def test_catalog_and_run_files_upload(
    alice, team_workspace, databricks_registry, standin, path, files_api, source
):
    path = path.format(url=standin.url)
    model_id = alice.client.upload_from_registry(
        databricks_registry,
        name=f"dbx-{'catalog' if files_api else 'run'}-file",
        path=path,
        workspace_id=team_workspace,
        framework="custom",
    )
    version = alice.client.get_model_version(model_id)
    stored_path = path.removeprefix(standin.url).removeprefix("/api/2.0/fs/files")
    local = standin.local_path(stored_path.removeprefix("dbfs:"), files_api=files_api)
    assert version.sha == file_sha256(local) and version.size == local.stat().st_size
    assert (version.source_model_name, version.source_version) == source


def test_preview(alice, databricks_registry, standin):
    """A preview is the file the stand-in holds for that very version."""
    for version in ("1", "3"):
        path = f"/Models/main/ml/churn/{version}/artifacts/tokenizer/vocab.txt"
        local = standin.local_path(path, files_api=True)
        preview = alice.client.preview_artifact(
            databricks_registry, "main.ml.churn", version, "artifacts/tokenizer/vocab.txt"
        )
        assert preview.text == local.read_text() and preview.size == local.stat().st_size
        assert not preview.binary and not preview.truncated
    preview = alice.client.preview_artifact(databricks_registry, "main.ml.churn", "2", "MLmodel")
    assert preview.text == "artifact_path: model\n" and not preview.binary
    for model, root in (("testmodel2", TESTMODEL_ROOT), ("wine_quality", WINE_TRACKING_ROOT)):
        version = "1" if model == "testmodel2" else "2"
        wmr = alice.client.preview_artifact(databricks_registry, model, version, "requirements.txt")
        assert wmr.text == standin.local_path(f"{root}/requirements.txt").read_text()


def test_throttling_is_honoured(alice, databricks_registry, standin):
    standin.throttle(2, "1")
    started = time.monotonic()
    versions = alice.client.list_model_versions(databricks_registry, "wine_quality")
    assert 2 <= time.monotonic() - started < 6
    assert {v.version for v in versions.model_versions} == {"1", "2"}


def test_throttling_is_bounded(alice, databricks_registry, standin):
    standin.throttle(10_000, "120")
    started = time.monotonic()
    with pytest.raises(UpstreamFailed) as caught:
        alice.client.list_model_versions(databricks_registry, "wine_quality")
    assert time.monotonic() - started < 15
    assert caught.value.status == 502 and "HTTP 429" in caught.value.message


def test_bad_token_is_a_clear_error(
    registry_service, alice, team_workspace, databricks_registry, standin
):
    revoked = alice.client.create_registry(
        "revoked", standin.url, token=BAD_TOKEN, workspace_id=team_workspace, kind="databricks"
    )
    with pytest.raises(UpstreamFailed) as caught:
        alice.client.list_registry_models(revoked)
    assert caught.value.status == 502
    assert "the registry rejected the token" in caught.value.message
    assert "Error 403 Invalid access token." not in caught.value.message
    raw = registry_service.post(
        alice.token,
        "models/list_registry_model_version_artifacts",
        {"registry_id": revoked, "name": "testmodel2", "version": "1"},
    )
    assert raw.status_code == 502 and "rejected the token" in raw.json()["msg"]
    assert BAD_TOKEN not in raw.text and BAD_TOKEN not in str(caught.value)
    listed = registry_service.post(
        alice.token, "models/list_registries", {"workspace_id": team_workspace}
    )
    assert BAD_TOKEN not in listed.text and standin.token not in listed.text


def test_token_never_in_the_service_log(registry_service, alice, databricks_registry, standin):
    with pytest.raises(NotFound):
        alice.client.list_artifacts(databricks_registry, "wmr-model-0001", "1")
    log = registry_service.log_path.read_text(errors="replace")
    assert standin.token not in log and BAD_TOKEN not in log
    assert {h.authorization for h in standin.blob_hits} <= {None}


def test_the_panel_browses_and_uploads_from_databricks(
    registry_service, alice, team_workspace, databricks_registry, mlflow_registry, standin
):
    from wallaroo_registry_ui.panel.widget import RegistryBrowser

    browser = RegistryBrowser(registry_service.client(alice.token, max_retry_seconds=5))
    try:
        registries = browser.select_workspace(team_workspace)
        assert {databricks_registry, mlflow_registry} <= set(registries["id"])
        models = browser.select_registry(databricks_registry)
        assert len(models) == browser.page_size
        catalog = browser.select_model("main.ml.churn")
        assert set(catalog["version"].astype(str)) == {"1", "2", "3"}
        assert {"champion", "challenger"} <= {r["aliases"] for r in browser.version_rows}
        browser.select_model("testmodel2")
        artifacts = browser.select_version("1")
        listed = set(artifacts["relative_path"])
        assert {"data/weights/big.bin", "data/weights/layer0/deeper/kernel.npy"} <= listed
        browser.select_artifact("data/weights/big.bin")
        model_id = browser.upload("dbx-panel-weights", framework="custom")
        uploaded = alice.client.get_model_version(model_id)
        assert uploaded.sha == standin.big_sha256 and uploaded.size == standin.big_size
        assert (uploaded.source_model_name, uploaded.source_version) == ("testmodel2", "1")
    finally:
        browser.close()
