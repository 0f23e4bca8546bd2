"""RegistryBrowser against the real service and a real MLflow: every step from Python and from
simulated view messages, and the state after each."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from mlflow import MlflowClient
from support.registry_helpers import file_sha256, mlflow_file, mlflow_model_names
from support.widget_driver import ViewDriver

from wallaroo_registry_ui import RegistryBrowser
from wallaroo_registry_ui.client.errors import BadRequest, NotFound, Unauthorized
from wallaroo_registry_ui.contract import schema_from_base64


@pytest.fixture
def browser(registry_service, alice, mlflow_registry):
    widget = RegistryBrowser.connect(registry_service.url, token=alice.token, max_retry_seconds=5)
    yield widget
    widget.close()


def _mlflow_sha256(seed, name: str, version: str, relative_path: str, tmp_path: Path) -> str:
    """The sha256 of the bytes MLflow itself serves for a version's file."""
    return file_sha256(mlflow_file(seed.url, name, version, relative_path, tmp_path))


def _mlflow_signature(seed, name: str, version: str) -> tuple[list[tuple[str, str]], list[str]]:
    """A version's signature as MLflow itself reads it: [(input column, arrow type)], and the
    arrow types of its outputs (a tensor output is a list of its dtype)."""
    import mlflow

    mlflow.set_tracking_uri(seed.url)
    signature = mlflow.models.get_model_info(f"models:/{name}/{version}").signature
    inputs = [
        (column.name, str(pa.from_numpy_dtype(column.type.to_numpy())))
        for column in signature.inputs.inputs
    ]
    outputs = [str(pa.list_(pa.from_numpy_dtype(spec.type))) for spec in signature.outputs.inputs]
    return inputs, outputs


def _describe(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(field.name, str(field.type)) for field in schema]


def _model_file(files) -> str:
    """The seeded sklearn model's file (model.pkl or model.skops, by MLflow version)."""
    return next(f for f in files if f.startswith("model.") and f.endswith((".pkl", ".skops")))


def test_every_step_from_python(
    browser, registry_service, alice, team_workspace, mlflow_registry, mlflow_seed, tmp_path
):
    wine = mlflow_seed.wine_model

    assert team_workspace in set(browser.workspaces["id"])
    assert {"id": team_workspace, "name": "team-alice"} in browser.workspace_options
    assert browser.workspace_id is None and browser.registry_options == []

    registries = browser.select_workspace(team_workspace)
    assert mlflow_registry in set(registries["id"])
    assert browser.workspace_id == team_workspace
    assert browser.upload_workspace_id == team_workspace
    assert mlflow_registry in {r["id"] for r in browser.registry_options}
    assert all(set(r) == {"id", "name", "kind", "url"} for r in browser.registry_options)

    models = browser.select_registry(mlflow_registry)
    assert browser.registry_id == mlflow_registry
    assert len(models) == browser.page_size == 100
    assert browser.models_loaded == 100 and browser.models_more
    assert len(browser.model_rows) == 100
    assert set(browser.model_rows[0]) == {
        "name",
        "latest_version",
        "stages",
        "aliases",
        "owner",
        "updated",
    }
    assert [r["name"] for r in browser.model_rows] == list(models["name"])

    versions = browser.select_model(wine)
    assert browser.model_name == wine
    assert set(versions["version"]) == {"1", "2"}
    assert browser.versions_total == 2
    assert [r["version"] for r in browser.version_rows] == ["2", "1"]
    assert {r["version"]: r["stage"] for r in browser.version_rows} == mlflow_seed.wine_stages
    assert {r["version"]: r["aliases"] for r in browser.version_rows} == {
        "2": "champion",
        "1": "challenger",
    }
    assert browser.upload_name == "wine-quality"

    artifacts = browser.select_version("2")
    assert browser.version == "2"
    files = set(artifacts.loc[~artifacts["is_dir"], "relative_path"])
    model_file = _model_file(files)
    assert {"MLmodel", "requirements.txt"} <= files
    tree = {row["path"]: row for row in browser.artifact_rows}
    assert tree["MLmodel"]["previewable"] and not tree[model_file]["previewable"]
    assert tree[model_file]["size"].endswith(("B", "KiB", "MiB"))
    assert browser.artifact_path == model_file
    assert browser.upload_framework == "sklearn"
    assert "scikit-learn" in browser.upload_requirements
    assert ["alcohol", "double"] in browser.upload_input_schema
    assert len(browser.upload_input_schema) == 13
    assert browser.upload_output_schema
    assert browser.upload_name_problem == ""
    assert browser.preview_available

    text = browser.preview_file("MLmodel")
    assert "flavors" in text and "sklearn" in text
    assert browser.preview["path"] == "MLmodel" and "flavors" in browser.preview["text"]

    model_id = browser.upload()
    status = browser.upload_status
    assert (status["state"], status["model_id"]) == ("done", model_id)
    assert set(status) == {"state", "message", "model_id"}
    # The panel shows this message when the upload is done: it names the file, the new name
    # and the new model version.
    for shown in (model_file, "wine-quality", str(model_id)):
        assert shown in status["message"], status["message"]
    assert browser.last_upload_id == model_id
    uploaded = browser.client.get_model_version(model_id)
    assert uploaded.sha == _mlflow_sha256(mlflow_seed, wine, "2", model_file, tmp_path)
    assert uploaded.name == "wine-quality"
    assert uploaded.framework == "sklearn"
    assert (uploaded.source_model_name, uploaded.source_version) == (wine, "2")
    assert any(r.startswith("scikit-learn") for r in uploaded.requirements)
    # The schemas sent by default are the version's signature, as MLflow itself reads it.
    config = registry_service.post(
        alice.token, "models/get_version", {"model_version_id": model_id}
    ).json()["config"]
    inputs, outputs = _mlflow_signature(mlflow_seed, wine, "2")
    assert _describe(schema_from_base64(config["input_schema"])) == inputs
    assert [t for _, t in _describe(schema_from_base64(config["output_schema"]))] == outputs
    assert model_id in set(browser.uploaded_models["version_id"])
    again = browser.upload(name="wine-quality-again")
    newest_first = [row["id"] for row in browser.uploaded_rows[:2]]
    assert newest_first == [str(again), str(model_id)], "the newest upload comes first"
    assert browser.error == "" and browser.busy == []


def test_search_sort_and_paging_follow_the_registry(
    browser, team_workspace, mlflow_registry, mlflow_seed
):
    browser.select_workspace(team_workspace)
    browser.select_registry(mlflow_registry)
    every = mlflow_model_names(mlflow_seed.url)  # what MLflow itself lists

    everything = browser.load_all_models()
    assert list(everything["name"]) == every
    assert not browser.models_more and browser.models_loaded == len(every)
    assert len(browser.model_rows) <= browser.page_size

    by_name_desc = browser.sort_models("name", descending=True)
    assert by_name_desc["name"].iloc[0] == max(every)
    newest = browser.sort_models("updated", descending=True)
    assert newest["updated_at"].is_monotonic_decreasing

    found = browser.search_models("BULK-MODEL-000")
    assert sorted(found["name"]) == [f"bulk-model-{i:04d}" for i in range(10)]
    assert browser.models_matched == 10 and not browser.models_more
    assert browser.search_models("bulk_model").empty
    quoted = browser.search_models("a'quote\"d")
    assert list(quoted["name"]) == ["a'quote\"dq"]
    assert browser.search_models("").shape[0] == browser.page_size


def test_view_messages_drive_the_same_steps(
    browser, team_workspace, mlflow_registry, mlflow_seed, tmp_path
):
    view = ViewDriver(browser)
    view.set(workspace_id=team_workspace)
    view.wait()
    assert mlflow_registry in {r["id"] for r in browser.registry_options}

    view.set(registry_id=mlflow_registry)
    view.wait()
    assert browser.models_loaded == 100 and browser.models_more

    reply = view.request("load_more")
    assert reply["ok"] and reply["result"] == {"loaded": 200, "more": True}
    assert browser.models_offset == 100 and len(browser.model_rows) == 100

    view.set(models_offset=0)
    view.wait()
    assert browser.models_offset == 0

    view.set(model_query="wine")
    view.wait()
    assert [r["name"] for r in browser.model_rows] == [mlflow_seed.wine_model]
    # The row's text is what MLflow itself reports for the model.
    (row,) = browser.model_rows
    truth = MlflowClient(tracking_uri=mlflow_seed.url).get_registered_model(mlflow_seed.wine_model)
    newest = max(truth.latest_versions, key=lambda v: int(v.version))
    assert row["latest_version"] == newest.version
    assert set(row["stages"].split(", ")) == {
        v.current_stage for v in truth.latest_versions if v.current_stage != "None"
    }
    assert set(row["aliases"].split(", ")) == {f"{a}@{v}" for a, v in truth.aliases.items()}
    updated = pd.Timestamp(truth.last_updated_timestamp, unit="ms", tz="UTC")
    assert row["updated"] == updated.strftime("%Y-%m-%d %H:%M")

    view.set(model_name=mlflow_seed.wine_model)
    view.wait()
    assert [r["version"] for r in browser.version_rows] == ["2", "1"]

    view.set(version="1")
    view.wait()
    model_file = _model_file(browser.artifacts["relative_path"])
    assert browser.artifact_path == model_file
    assert browser.upload_framework == "sklearn"

    reply = view.request("preview", path="requirements.txt")
    assert reply["ok"] and "scikit-learn" in browser.preview["text"]

    view.set(upload_name="Wine_Quality")
    assert "DNS" in browser.upload_name_problem and "wine-quality" in browser.upload_name_problem
    reply = view.request("upload")
    assert not reply["ok"] and "wine-quality" in reply["error"]
    assert browser.upload_status["state"] == "failed"

    view.set(upload_name="wine-from-view", upload_visibility="public")
    assert browser.upload_name_problem == ""
    reply = view.request("upload")
    assert reply["ok"], reply
    model_id = reply["result"]["model_id"]
    assert browser.last_upload_id == model_id == browser.upload_status["model_id"]
    assert str(model_id) in {row["id"] for row in browser.upload_job_rows}
    assert browser.wait_for_upload(model_id, timeout=120).status == "ready"
    assert browser.upload_status["state"] == "done"
    version = browser.client.get_model_version(model_id)
    assert version.visibility == "public"
    assert version.sha == _mlflow_sha256(
        mlflow_seed, mlflow_seed.wine_model, "1", model_file, tmp_path
    )
    assert str(model_id) in {row["id"] for row in browser.uploaded_rows}

    states = [m["state"] for m in view.sent if m.get("method") == "update"]
    assert any("busy" in s and s["busy"] for s in states), "the view was never told it is busy"
    assert browser.busy == []


def test_from_wallaroo_uses_the_sdk_login(registry_service, alice, team_workspace):
    class Auth:
        def auth_header(self):
            return {"Authorization": f"Bearer {alice.token}"}

    class FakeWallarooClient:
        api_endpoint = registry_service.url
        auth = Auth()

    browser = RegistryBrowser.from_wallaroo(FakeWallarooClient(), workspace_id=team_workspace)
    try:
        assert browser.workspace_id == team_workspace
        assert alice.token not in json.dumps(browser.get_state(), default=str)
        assert alice.token not in repr(browser)
    finally:
        browser.close()
    with pytest.raises(TypeError):
        RegistryBrowser(object())
    with pytest.raises(Unauthorized):
        RegistryBrowser.connect(registry_service.url, token="wru_not-a-real-token")


def test_upload_into_another_workspace(
    browser, alice, team_workspace, mlflow_registry, mlflow_seed
):
    """The form's target workspace, set in the view, is where the model goes."""
    target = alice.client.create_workspace("upload-target")
    alice.client.attach_registry(mlflow_registry, target)
    view = ViewDriver(browser)
    for step in (
        {"workspace_id": team_workspace},
        {"registry_id": mlflow_registry},
        {"model_name": mlflow_seed.wine_model},
        {"version": "2"},
    ):
        view.set(**step)
        view.wait()
    assert browser.upload_workspace_id == team_workspace
    view.set(upload_name="wine-elsewhere", upload_workspace_id=target)
    reply = view.request("upload")
    assert reply["ok"], reply
    model_id = reply["result"]["model_id"]
    assert browser.wait_for_upload(model_id, timeout=120).status == "ready"
    assert alice.client.get_model_version(model_id).workspace_id == target
    assert model_id in {m.version_id for m in alice.client.list_models(target)}
    assert model_id not in {m.version_id for m in alice.client.list_models(team_workspace)}


def test_python_selection_is_what_the_view_gets(browser, team_workspace, mlflow_registry):
    view = ViewDriver(browser)
    browser.select_workspace(team_workspace)
    browser.select_registry(mlflow_registry)
    updates = {}
    for message in view.sent:
        if message.get("method") == "update":
            updates.update(message["state"])
    assert updates["workspace_id"] == team_workspace
    assert updates["registry_id"] == mlflow_registry
    assert len(updates["model_rows"]) == 100


def test_artifact_tree_of_nested_folders(browser, team_workspace, mlflow_registry, mlflow_seed):
    browser.select_workspace(team_workspace)
    browser.select_registry(mlflow_registry)
    browser.search_models(mlflow_seed.nested_model)
    (row,) = browser.model_rows
    # MLflow reports the version's stage as "None": the panel shows no stage.
    assert (row["latest_version"], row["stages"]) == (mlflow_seed.nested_version, "")
    browser.select_model(mlflow_seed.nested_model)
    assert [(r["version"], r["stage"]) for r in browser.version_rows] == [
        (mlflow_seed.nested_version, "")
    ]
    browser.select_version(mlflow_seed.nested_version)
    rows = {row["path"]: row for row in browser.artifact_rows}
    assert rows["weights"]["is_dir"] and rows["weights"]["depth"] == 0
    assert rows["weights/layer2/deep/c.bin"]["depth"] == 3
    assert rows["weights/big.bin"]["size"] == "40.0 MiB"
    assert rows["config/params.json"]["previewable"]
    order = [row["path"] for row in browser.artifact_rows]
    assert order.index("weights") < order.index("weights/big.bin")
    assert browser.artifact_path == "weights/big.bin"
    assert browser.upload_framework == "custom"
    big = browser.preview_file("weights/big.bin")
    assert len(big) <= 256 * 1024, "more than the start of a 40 MiB file was read"
    assert browser.preview["truncated"] and browser.preview["size"] == "40.0 MiB"
    assert browser.preview["note"] == "Showing the start of the file only."
    with pytest.raises(ValueError, match="not a file"):
        browser.select_artifact("weights")
    browser.select_artifact("README.md")
    assert browser.artifact_path == "README.md"


def test_preview_unavailable_falls_back_to_file_names(
    browser, team_workspace, mlflow_registry, mlflow_seed, monkeypatch
):
    def no_preview(*args, **kwargs):
        raise NotFound("no such call", status=404, call="models/preview_registry_artifact")

    monkeypatch.setattr(browser.client, "preview_artifact", no_preview)
    browser.select_workspace(team_workspace)
    browser.select_registry(mlflow_registry)
    browser.select_model(mlflow_seed.wine_model)
    browser.select_version("2")
    assert not browser.preview_available
    assert browser.artifact_path == _model_file(browser.artifacts["relative_path"])
    assert browser.upload_framework == "sklearn"
    assert browser.upload_requirements == ""
    assert any("unavailable" in note for note in browser.upload_notes)
    with pytest.raises(NotFound):
        browser.preview_file("MLmodel")
    assert "unavailable" in browser.preview["note"]


def test_failures_are_shown_and_raised(browser, team_workspace, mlflow_registry, mlflow_seed):
    with pytest.raises(ValueError, match="not one of yours"):
        browser.select_workspace(999_999)
    assert "not one of yours" in browser.error
    browser.select_workspace(team_workspace)
    assert browser.error == ""
    with pytest.raises(ValueError, match="choose a registry"):
        browser.select_model("wine_quality")
    browser.select_registry(mlflow_registry)
    browser.select_model(mlflow_seed.wine_model)
    browser.select_version("2")
    with pytest.raises(BadRequest, match="wine-quality"):
        browser.upload(name="wine_quality")
    assert browser.upload_status["state"] == "failed"


def test_attach_and_detach(browser, alice, team_workspace, mlflow_server):
    other = alice.client.create_workspace("attach-detach-ws")
    registry = alice.client.create_registry("shared mlflow", mlflow_server.url, workspace_id=other)
    browser.refresh()
    browser.select_workspace(team_workspace)
    assert registry in {r["id"] for r in browser.other_registries}

    view = ViewDriver(browser)
    assert view.request("attach_registry", registry_id=registry)["ok"]
    assert browser.registry_id == registry
    assert registry in set(browser.registries["id"])
    assert browser.models_loaded > 0

    assert view.request("detach_registry", registry_id=registry)["ok"]
    assert browser.registry_id is None
    assert registry not in set(browser.registries["id"])
    assert registry in {r["id"] for r in browser.other_registries}

    browser.attach_registry(registry)
    assert browser.registry_id == registry
    browser.detach_registry()
    assert registry not in set(browser.registries["id"])


def test_a_collaborator_is_not_offered_what_her_role_does_not_allow(
    registry_service, alice, mlflow_server
):
    token = registry_service.add_user("nora.panel@example.com")
    workspace = alice.client.create_workspace("panel-roles")
    alice.client.create_registry("panel owners", mlflow_server.url, workspace_id=workspace)
    alice.client.add_user(workspace, "nora.panel@example.com")
    nora = RegistryBrowser.connect(registry_service.url, token=token, max_retry_seconds=5)
    try:
        nora.select_workspace(workspace)
        assert nora.registry_rights["connect"].endswith("you are a collaborator.")
        assert nora.registry_rights["attach"].startswith("Attaching a registry needs the owner")
        assert nora.registry_rights["detach"].startswith("Detaching a registry needs the owner")
        assert "you can browse and upload" in nora.registry_rights["note"]
        own = nora.client.create_registry("noras own", mlflow_server.url)
        nora.refresh()
        assert [r["id"] for r in nora.other_registries] == [own]
        # Her own workspace: she is its owner, and alice's registry is not hers to attach.
        mine = nora.client.create_workspace("panel-roles-nora")
        nora.refresh()
        nora.select_workspace(mine)
        assert (nora.registry_rights["attach"], nora.registry_rights["connect"]) == ("", "")
        assert [r["id"] for r in nora.other_registries] == [own]
        assert nora.registry_rights["note"].startswith(
            "1 registry you can use was connected by someone else"
        )
    finally:
        nora.close()


def test_handler_returns_before_slow_work_ends(browser, team_workspace, monkeypatch):
    entered, release, handled = threading.Event(), threading.Event(), threading.Event()
    slow = browser.client.list_registries

    def waiting_list(*args, **kwargs):
        entered.set()
        assert release.wait(120), "the test never let the slow call go on"
        return slow(*args, **kwargs)

    monkeypatch.setattr(browser.client, "list_registries", waiting_list)
    view = ViewDriver(browser)

    def handle() -> None:
        view.set(workspace_id=team_workspace)
        handled.set()

    threading.Thread(target=handle, daemon=True).start()
    try:
        # The slow call is still held back, yet the comm handler has returned.
        assert handled.wait(60), "the comm handler waited for the slow call to end"
        assert entered.wait(60), "the workspace's registries were never asked for"
        assert browser.busy == ["Loading workspace…"]
    finally:
        release.set()
    view.wait()
    assert browser.busy == [] and browser.registry_options


def test_unknown_request_is_answered_not_raised(browser):
    view = ViewDriver(browser)
    browser._handle_msg(
        {
            "content": {"data": {"method": "custom", "content": {"id": "x1", "type": "nope"}}},
            "buffers": [],
        }
    )
    (answer,) = view.replies()
    assert (answer["type"], answer["id"], answer["ok"]) == ("reply", "x1", False)
    assert set(answer) == {"type", "id", "ok", "error"}
    assert "unknown request type" in answer["error"]
