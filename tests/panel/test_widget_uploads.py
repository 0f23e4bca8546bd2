"""The panel's uploads against the real service and a real MLflow behind a throttling proxy: an
upload answered at once, its progress moving in the panel, another one started and one
cancelled meanwhile, browsing that does not wait, a failure told in words, and uploads that
outlive the panel that started them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from support.fault_proxy import FaultProxy
from support.service_stack import REGISTRY_TOKEN
from support.widget_driver import ViewDriver

from wallaroo_registry_ui import RegistryBrowser
from wallaroo_registry_ui.client.errors import Conflict, UploadFailed

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
BYTES_PER_SECOND = 4 * 1024 * 1024  # the seeded 40 MiB file takes about 10 s
REGISTRY_NAME = "throttled mlflow"


@pytest.fixture(scope="module")
def throttled(mlflow_server, mlflow_seed) -> Iterator[FaultProxy]:
    """The seeded MLflow behind a proxy that sends artifact bodies slowly."""
    with FaultProxy(mlflow_server.url) as proxy:
        proxy.throttle(BYTES_PER_SECOND, prefix=ARTIFACTS)
        yield proxy


@pytest.fixture(scope="module")
def upload_workspace(alice) -> int:
    """A workspace of its own, so these uploads change no other test's listings."""
    return alice.client.create_workspace("panel-uploads")


@pytest.fixture(scope="module")
def slow_registry(alice, upload_workspace, throttled) -> str:
    return alice.client.create_registry(
        REGISTRY_NAME, throttled.url, token=REGISTRY_TOKEN, workspace_id=upload_workspace
    )


@pytest.fixture
def browser(registry_service, alice, upload_workspace, slow_registry) -> Iterator[RegistryBrowser]:
    widget = RegistryBrowser.connect(
        registry_service.url,
        token=alice.token,
        workspace_id=upload_workspace,
        registry_id=slow_registry,
        max_retry_seconds=5,
    )
    yield widget
    widget.close()


def _choose_large_file(browser: RegistryBrowser, mlflow_seed) -> None:
    large = mlflow_seed.large_file
    browser.search_models(large.model_name)
    browser.select_model(large.model_name)
    browser.select_version(large.version)
    assert browser.artifact_path == large.relative_path


def _eventually(check: Callable[[], object], what: str, timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.1)


def _row(browser: RegistryBrowser, model_id: int) -> dict | None:
    return next((r for r in browser.upload_job_rows if r["id"] == str(model_id)), None)


def test_view_upload_answers_at_once_shows_progress_and_cancels(
    browser, alice, mlflow_seed, throttled
):
    large = mlflow_seed.large_file
    _choose_large_file(browser, mlflow_seed)
    view = ViewDriver(browser)

    view.set(upload_name="big-from-view")
    reply = view.request("upload")
    assert reply["ok"], reply
    first = reply["result"]["model_id"]
    answered = alice.client.get_upload(first)
    assert answered.status == "uploading" and answered.bytes_done < large.size, (
        "the upload was answered only once its bytes were there"
    )
    assert browser.upload_status["state"] == "running"
    assert browser.upload_status["model_id"] == first == browser.last_upload_id

    def moving() -> dict | None:
        row = _row(browser, first)
        fraction = row and row["fraction"]
        return row if fraction and 0 < fraction < 1 and row["rate"] else None

    row = _eventually(moving, "the first upload's bar moving")
    assert row["status"] == "uploading" and row["cancellable"]
    assert row["bytes"].endswith("of 40.0 MiB") and row["percent"].endswith("%")
    assert row["time_left"].endswith("left") and row["file"] == large.relative_path
    assert row["name"] == "big-from-view"

    # Browsing, previewing and a second upload while the first is in flight.
    started = time.monotonic()
    assert view.request("preview", path="config/params.json")["ok"]
    assert browser.preview["path"] == "config/params.json"
    view.set(upload_name="big-cancelled")
    second = view.request("upload")["result"]["model_id"]
    assert time.monotonic() - started < 10, "browsing waited for the upload"
    assert alice.client.get_upload(first).status == "uploading", "the first one ended too soon"

    reply = view.request("cancel_upload", model_version_id=second)
    assert reply["ok"], reply
    assert reply["result"] == {"model_version_id": second, "status": "error"}
    cancelled = _row(browser, second)
    assert cancelled["status"] == "error" and not cancelled["cancellable"]
    assert "cancelled by alice@example.com" in cancelled["error"]
    assert alice.client.get_model_version(second).status == "error"
    again = view.request("cancel_upload", model_version_id=second)
    assert not again["ok"] and "409" in again["error"]

    ended = browser.wait_for_upload(first, timeout=120)
    assert ended.status == "ready"
    row = _row(browser, first)
    assert (row["status"], row["fraction"], row["sha"]) == ("ready", 1.0, large.sha256[:12])
    assert alice.client.get_model_version(first).sha == large.sha256
    uploaded = {r["id"]: r for r in browser.uploaded_rows}
    assert uploaded[str(first)]["status"] == "ready"
    assert uploaded[str(second)]["status"] == "error"
    assert browser.upload_status["state"] == "failed", "the form follows the last upload asked"
    frame = browser.uploads.set_index("model_version_id")
    assert frame.loc[first, "sha"] == large.sha256 and frame.loc[first, "status"] == "ready"
    assert frame.loc[second, "file_name"] == large.relative_path
    downloads = [seen for seen in throttled.requests if seen.path.endswith("big.bin")]
    assert downloads, "the uploads did not go through the throttling proxy"
    _eventually(lambda: browser.busy == [], "the panel idle")
    assert REGISTRY_TOKEN not in view.sent_text() and alice.token not in view.sent_text()


def test_python_upload_waits_cancels_and_raises(browser, alice, mlflow_seed):
    large = mlflow_seed.large_file
    _choose_large_file(browser, mlflow_seed)

    model_id = browser.upload(name="big-no-wait", wait=False)
    assert alice.client.get_upload(model_id).status == "uploading"
    stopped = browser.cancel_upload(model_id)
    assert stopped.status == "error" and "cancelled by alice@example.com" in stopped.error
    with pytest.raises(UploadFailed, match=r"cancelled by alice@example\.com") as failed:
        browser.wait_for_upload(model_id, timeout=60)
    assert failed.value.progress.model_version_id == model_id
    with pytest.raises(Conflict):
        browser.cancel_upload(model_id)

    ready_id = browser.upload(name="big-waited")
    version = alice.client.get_model_version(ready_id)
    assert (version.status, version.sha, version.size) == ("ready", large.sha256, large.size)
    assert browser.upload_status["state"] == "done"
    assert str(ready_id) in browser.upload_status["message"]
    assert _row(browser, ready_id)["sha"] == large.sha256[:12]


def test_a_failed_upload_is_told_in_words(browser, alice, mlflow_seed, throttled):
    _choose_large_file(browser, mlflow_seed)
    throttled.fail_first(404, prefix=ARTIFACTS + "/")
    with pytest.raises(UploadFailed) as failed:
        browser.upload(name="big-missing")
    model_id = failed.value.progress.model_version_id
    row = _row(browser, model_id)
    assert row["status"] == "error", row
    assert REGISTRY_NAME in row["error"] or throttled.url in row["error"], "names no registry"
    assert browser.upload_status["state"] == "failed"
    assert row["error"] in browser.upload_status["message"]
    assert alice.client.get_model_version(model_id).status == "error"
    shown = json.dumps(browser.get_state(), default=str)
    assert REGISTRY_TOKEN not in shown and alice.token not in shown


def test_uploads_outlive_the_panel_and_a_new_one_shows_them(
    registry_service, alice, upload_workspace, slow_registry, mlflow_seed
):
    large = mlflow_seed.large_file
    first = RegistryBrowser.connect(
        registry_service.url,
        token=alice.token,
        workspace_id=upload_workspace,
        registry_id=slow_registry,
    )
    try:
        _choose_large_file(first, mlflow_seed)
        model_id = first.upload(name="big-outlives", wait=False)
    finally:
        first.close()
    _eventually(lambda: first._watch._thread is None, "the closed panel's polling stopping", 10)

    second = RegistryBrowser.connect(
        registry_service.url, token=alice.token, workspace_id=upload_workspace
    )
    try:
        row = _row(second, model_id)
        assert row is not None, "a new panel does not show the workspace's upload in flight"
        assert (row["status"], row["name"], row["file"]) == ("uploading", "big-outlives", "big.bin")
        assert second.wait_for_upload(model_id, timeout=120).status == "ready"
        assert _row(second, model_id)["sha"] == large.sha256[:12]
    finally:
        second.close()
    assert alice.client.get_model_version(model_id).sha == large.sha256


def test_a_retried_upload_shows_its_attempts(browser, alice, mlflow_seed, throttled):
    large = mlflow_seed.large_file
    _choose_large_file(browser, mlflow_seed)
    throttled.cut_after(8 * 1024 * 1024, prefix=ARTIFACTS + "/")
    model_id = browser.upload(name="big-retried")
    row = _row(browser, model_id)
    assert (row["status"], row["attempts"]) == ("ready", "2 attempts"), row
    assert row["sha"] == large.sha256[:12]
    assert alice.client.get_model_version(model_id).sha == large.sha256
