"""Upload jobs from the client against a scripted API over real HTTP: the calls' shapes, waiting
with progress, the end in error, the timeout, polls that are retried and a cancel that is not,
the fallback to a version's status where the server has no models/get_upload, and the text
bar that stands in for a callback outside a Jupyter kernel."""

from __future__ import annotations

import copy
import itertools
import pickle
import sys
import time
import types
from typing import Any

import pytest
from support.api_samples import MVC, REGISTRY_ID, TOKEN
from support.scripted_api import Reply, ScriptedApi, ok

from wallaroo_registry_ui.client import RegistryClient, frames
from wallaroo_registry_ui.client.errors import (
    BadRequest,
    Conflict,
    NotFound,
    RegistryApiError,
    ServerError,
    UploadFailed,
)
from wallaroo_registry_ui.client.records import UploadProgress

UPLOAD = "/v1/api/models/upload_from_registry"
GET_UPLOAD = "/v1/api/models/get_upload"
CANCEL = "/v1/api/models/cancel_upload"
LIST_UPLOADS = "/v1/api/models/list_uploads"
GET_VERSION = "/v1/api/models/get_version"
STARTED = "2026-03-01T10:00:00.250000+00:00"
FINISHED = "2026-03-01T10:00:12.750000+00:00"


def upload_json(done: int, status: str = "uploading", **fields: Any) -> dict[str, Any]:
    """An UPLOAD answer of model version 7, a 1000-byte file."""
    answer = {
        "model_version_id": 7,
        "status": status,
        "bytes_done": done,
        "bytes_total": 1000,
        "bytes_per_second": 250.0 if done else None,
        "attempts": 1,
        "error": None,
        "started_at": STARTED,
        "finished_at": None if status == "uploading" else FINISHED,
    }
    answer.update(fields)
    return answer


def mvc_with_status(status: str, size: int = 1234) -> dict[str, Any]:
    version = copy.deepcopy(MVC)
    version["model_version"]["status"] = status
    version["model_version"]["file_info"]["size"] = size
    return version


def start_upload(client: RegistryClient, **options: Any) -> int:
    return client.upload_from_registry(
        REGISTRY_ID,
        name="wine-quality",
        path="dbfs:/m/model.pkl",
        workspace_id=3,
        framework="sklearn",
        **options,
    )


def calls_to(api: ScriptedApi, path: str) -> int:
    return len(api.calls(path))


# ---- the calls ---------------------------------------------------------------------------------


def test_get_upload_sends_the_id_and_reads_every_field(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond(GET_UPLOAD, ok(upload_json(400, attempts=3)))
    progress = client.get_upload(7)
    assert api.received[0].body == {"model_version_id": 7}
    assert api.received[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert progress == UploadProgress(
        model_version_id=7,
        status="uploading",
        bytes_done=400,
        bytes_total=1000,
        bytes_per_second=250.0,
        attempts=3,
        error=None,
        started_at=STARTED,
        finished_at=None,
    )
    assert (progress.done, progress.fraction, progress.seconds_left) == (False, 0.4, 2.4)


def test_get_upload_of_a_wrong_shape_names_the_call(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond(GET_UPLOAD, ok({"status": "uploading"}))
    with pytest.raises(RegistryApiError) as caught:
        client.get_upload(7)
    assert "models/get_upload -> HTTP 200: unexpected response shape" in str(caught.value)


def test_a_poll_is_a_read_and_is_retried(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(
        GET_UPLOAD,
        (503, {"msg": "busy", "code": 503}, {}),
        ok(upload_json(1000, "ready")),
    )
    assert client.get_upload(7).status == "ready"
    assert calls_to(api, GET_UPLOAD) == 2


def test_cancel_is_a_write_and_is_sent_once(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(CANCEL, (503, {"msg": "busy", "code": 503}, {}))
    with pytest.raises(ServerError):
        client.cancel_upload(7)
    assert calls_to(api, CANCEL) == 1


def test_cancel_answers_the_upload_as_it_ended(api: ScriptedApi, client: RegistryClient) -> None:
    reason = "cancelled by me@example.com"
    api.respond(CANCEL, ok(upload_json(0, "error", error=reason, bytes_per_second=None)))
    ended = client.cancel_upload(7)
    assert api.received[0].body == {"model_version_id": 7}
    assert (ended.status, ended.error, ended.done, ended.fraction) == ("error", reason, True, 0.0)
    assert ended.seconds_left is None


def test_cancelling_an_ended_upload_is_a_conflict(api: ScriptedApi, client: RegistryClient) -> None:
    message = "the upload of model version 7 has already ended (ready)"
    api.respond(CANCEL, (409, {"msg": message, "code": 409}, {}))
    with pytest.raises(Conflict) as caught:
        client.cancel_upload(7)
    assert caught.value.message == message


def test_list_uploads_sends_the_filter_and_reads_names(
    api: ScriptedApi, client: RegistryClient
) -> None:
    entries = [
        upload_json(500, name="big-model", workspace_id=3, model_version_id=9),
        upload_json(1000, "ready", name="wine-quality", workspace_id=3),
    ]
    api.respond(LIST_UPLOADS, ok({"uploads": entries}))
    found = client.list_uploads(3, status="uploading")
    assert api.received[0].body == {"workspace_id": 3, "status": "uploading"}
    assert [(u.model_version_id, u.name, u.workspace_id, u.status) for u in found] == [
        (9, "big-model", 3, "uploading"),
        (7, "wine-quality", 3, "ready"),
    ]
    assert client.list_uploads(3) == found
    assert api.received[1].body == {"workspace_id": 3}


def test_list_uploads_refuses_an_unknown_status_before_sending(
    api: ScriptedApi, client: RegistryClient
) -> None:
    with pytest.raises(BadRequest) as caught:
        client.list_uploads(3, status="running")
    assert caught.value.field == "status"
    assert "'running' is not one of: uploading, ready, error" in str(caught.value)
    assert api.received == []


def test_uploads_frame_asks_for_those_in_flight(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(
        LIST_UPLOADS,
        ok({"uploads": [upload_json(250, name="big-model", workspace_id=3)]}),
    )
    frame = client.uploads_frame(3)
    assert api.received[0].body == {"workspace_id": 3, "status": "uploading"}
    assert list(frame.columns) == frames.UPLOAD_COLUMNS
    row = frame.iloc[0]
    assert (row["name"], row["bytes_done"], row["fraction"], row["seconds_left"]) == (
        "big-model",
        250,
        0.25,
        3.0,
    )
    client.uploads_frame(3, status=None)
    assert api.received[1].body == {"workspace_id": 3}


# ---- upload_from_registry with and without waiting ---------------------------------------------


def test_without_wait_the_id_comes_back_at_once(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(UPLOAD, ok({"model_id": 7}))
    assert start_upload(client, wait=False) == 7
    assert [r.path for r in api.received] == [UPLOAD]


def test_waiting_reports_each_change_once_and_returns_the_id(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond(UPLOAD, ok({"model_id": 7}))
    api.respond(
        GET_UPLOAD,
        ok(upload_json(0, bytes_total=None)),
        ok(upload_json(0, bytes_total=None)),
        ok(upload_json(400)),
        ok(upload_json(400, bytes_per_second=180.0)),
        ok(upload_json(400, attempts=2)),
        ok(upload_json(1000, "ready")),
    )
    heard: list[UploadProgress] = []
    assert start_upload(client, on_progress=heard.append) == 7
    assert calls_to(api, GET_UPLOAD) == 6
    assert [(p.status, p.bytes_done, p.bytes_total, p.attempts) for p in heard] == [
        ("uploading", 0, None, 1),
        ("uploading", 400, 1000, 1),
        ("uploading", 400, 1000, 2),
        ("ready", 1000, 1000, 1),
    ]
    assert heard[-1].done and heard[-1].elapsed_seconds == 12.5
    assert {r.body["model_version_id"] for r in api.calls(GET_UPLOAD)} == {7}


def test_an_upload_already_ready_is_reported_once(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(UPLOAD, ok({"model_id": 7}))
    api.respond(GET_UPLOAD, ok(upload_json(1000, "ready")))
    heard: list[UploadProgress] = []
    assert start_upload(client, on_progress=heard.append) == 7
    assert [p.status for p in heard] == ["ready"]
    assert calls_to(api, GET_UPLOAD) == 1


def test_an_upload_ending_in_error_raises_with_the_reason_and_progress(
    api: ScriptedApi, client: RegistryClient
) -> None:
    reason = "registry 'team mlflow' answered 404 for /model.pkl: the file is not there"
    api.respond(UPLOAD, ok({"model_id": 7}))
    api.respond(
        GET_UPLOAD,
        ok(upload_json(100)),
        ok(upload_json(0, "error", error=reason, attempts=4)),
    )
    heard: list[UploadProgress] = []
    with pytest.raises(UploadFailed) as caught:
        start_upload(client, on_progress=heard.append)
    failed = caught.value
    assert failed.message == reason
    assert str(failed) == f"upload of model version 7 failed: {reason}"
    assert failed.status is None
    assert failed.model_version_id == 7
    assert failed.progress is not None
    assert (failed.progress.status, failed.progress.attempts) == ("error", 4)
    assert [p.status for p in heard] == ["uploading", "error"]
    again = pickle.loads(pickle.dumps(failed))
    assert (str(again), again.progress) == (str(failed), failed.progress)


def test_a_reason_carrying_the_api_token_is_masked(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond(GET_UPLOAD, ok(upload_json(0, "error", error=f"refused {TOKEN}")))
    with pytest.raises(UploadFailed) as caught:
        client.wait_for_upload(7, on_progress=lambda _: None)
    assert TOKEN not in str(caught.value)
    assert caught.value.progress is not None
    assert TOKEN not in (caught.value.progress.error or "")


def test_a_cancelled_upload_ends_the_wait_as_failed(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond(
        GET_UPLOAD,
        ok(upload_json(300)),
        ok(upload_json(0, "error", error="cancelled by alice@example.com")),
    )
    with pytest.raises(UploadFailed, match=r"cancelled by alice@example\.com"):
        client.wait_for_upload(7, on_progress=lambda _: None)


# ---- wait_for_upload: timing ------------------------------------------------------------------


def test_the_timeout_raises_naming_the_version(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(GET_UPLOAD, ok(upload_json(400)))
    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:
        client.wait_for_upload(7, timeout=0.7, on_progress=lambda _: None)
    took = time.monotonic() - started
    assert 0.7 <= took < 2.0
    text = str(caught.value)
    assert "model version 7" in text and "still uploading after 0.7 s" in text
    assert "400 bytes of 1000" in text
    # Asked at the start, after the growing pauses, and once more at the deadline.
    assert 3 <= calls_to(api, GET_UPLOAD) <= 5


def test_polls_slow_down_while_nothing_changes(api: ScriptedApi, client: RegistryClient) -> None:
    """Pauses of 0.2 s, then 0.3, 0.45, 0.675, ... up to 2 s while nothing changes, so a
    waiting upload is asked about far less than every 0.2 s."""
    arrivals: list[float] = []

    def unchanged(_body: Any) -> Reply:
        arrivals.append(time.monotonic())
        return ok(upload_json(0, bytes_total=None))

    api.respond(GET_UPLOAD, unchanged)
    with pytest.raises(TimeoutError):
        client.wait_for_upload(7, timeout=2.5, on_progress=lambda _: None)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert 5 <= len(arrivals) <= 7, gaps
    assert gaps[0] >= 0.19
    assert gaps[3] >= 0.6
    assert gaps[0] < gaps[1] < gaps[2] < gaps[3]


def test_polls_stay_quick_while_bytes_move(api: ScriptedApi, client: RegistryClient) -> None:
    arrivals: list[float] = []

    def moving(_body: Any) -> Reply:
        arrivals.append(time.monotonic())
        count = len(arrivals)
        return ok(upload_json(count * 100, "ready" if count == 10 else "uploading"))

    api.respond(GET_UPLOAD, moving)
    client.wait_for_upload(7, on_progress=lambda _: None)
    assert len(arrivals) == 10
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert all(0.19 <= gap < 0.5 for gap in gaps), gaps


def test_waiting_on_an_unknown_version_is_not_found(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond(GET_UPLOAD, (404, {"msg": "model version 99 not found", "code": 404}, {}))
    api.respond(GET_VERSION, (404, {"msg": "model version 99 not found", "code": 404}, {}))
    with pytest.raises(NotFound) as caught:
        client.wait_for_upload(99, on_progress=lambda _: None)
    assert "model version 99 not found" in str(caught.value)


# ---- a server without models/get_upload -------------------------------------------------------


def test_without_get_upload_the_version_status_is_followed(
    api: ScriptedApi, client: RegistryClient
) -> None:
    """A Wallaroo instance: models/get_upload is a 404, asked once; the version's own status
    is polled, anything but ready or error still going."""
    api.respond(
        GET_VERSION,
        ok(mvc_with_status("uploading", 0)),
        ok(mvc_with_status("pending_load_native")),
        ok(mvc_with_status("ready")),
    )
    heard: list[UploadProgress] = []
    ended = client.wait_for_upload(7, on_progress=heard.append)
    assert calls_to(api, GET_UPLOAD) == 1
    assert calls_to(api, GET_VERSION) == 3
    assert [(p.status, p.bytes_done) for p in heard] == [
        ("uploading", 0),
        ("uploading", 1234),
        ("ready", 1234),
    ]
    assert (ended.model_version_id, ended.name, ended.workspace_id) == (7, "wine-quality", 3)
    assert ended.fraction == 1.0


def test_without_get_upload_an_error_status_fails(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(UPLOAD, ok({"model_id": 7}))
    api.respond(GET_VERSION, ok(mvc_with_status("uploading")), ok(mvc_with_status("error")))
    with pytest.raises(UploadFailed) as caught:
        start_upload(client, on_progress=lambda _: None)
    assert "model version 7 failed: the service gives no reason" in str(caught.value)
    assert calls_to(api, GET_UPLOAD) == 1


# ---- the text bar ------------------------------------------------------------------------------


def _script_a_short_upload(api: ScriptedApi) -> None:
    api.respond(UPLOAD, ok({"model_id": 7}))
    api.respond(GET_UPLOAD, ok(upload_json(500)), ok(upload_json(1000, "ready")))


def test_a_script_without_a_callback_gets_a_text_bar(
    api: ScriptedApi, client: RegistryClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "ipykernel" not in sys.modules
    _script_a_short_upload(api)
    assert start_upload(client) == 7
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines == [
        "wine-quality: [############------------]  50%  500 B of 1000 B  250 B/s  2 s left",
        "wine-quality: ready, 1000 B in 12 s",
    ]


def test_in_a_jupyter_kernel_there_is_no_text_bar(
    api: ScriptedApi,
    client: RegistryClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    _script_a_short_upload(api)
    assert start_upload(client) == 7
    assert capsys.readouterr() == ("", "")
    assert calls_to(api, GET_UPLOAD) == 2


def test_a_callback_replaces_the_text_bar(
    api: ScriptedApi, client: RegistryClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _script_a_short_upload(api)
    heard: list[int] = []
    start_upload(client, on_progress=lambda p: heard.append(p.bytes_done))
    assert heard == [500, 1000]
    assert capsys.readouterr() == ("", "")


def test_a_wait_cut_short_names_the_upload_going_on(
    api: ScriptedApi, client: RegistryClient, capsys: pytest.CaptureFixture[str]
) -> None:
    api.respond(GET_UPLOAD, ok(upload_json(500)))
    with pytest.raises(TimeoutError):
        client.wait_for_upload(7, timeout=0.3)
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == (
        "model version 7: still uploading in the service; "
        "wait_for_upload(7) follows it, cancel_upload(7) stops it"
    )
