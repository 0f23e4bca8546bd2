"""Records read leniently: fields the server leaves out get defaults, and MLflow's
list-of-pairs tags and aliases become dicts. An upload's progress tells how far it is, how long
it has left and how long it took."""

from __future__ import annotations

from support.api_samples import REGISTRY_ID, VERSION
from support.scripted_api import ScriptedApi, ok

from wallaroo_registry_ui.client import RegistryClient
from wallaroo_registry_ui.client.records import RegisteredModel, UploadedModel, UploadProgress


def test_registered_model_fields_default_when_left_out(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond(
        "/v1/api/models/list_registry_models",
        ok(
            {
                "registered_models": [
                    {"name": "bare"},
                    {
                        "name": "full",
                        "user_id": "u",
                        "latest_versions": [VERSION],
                        "description": "d",
                        "tags": [{"key": "k", "value": "v"}],
                        "aliases": [{"alias": "champion", "version": "2"}],
                    },
                ]
            }
        ),
    )
    page = client.list_registry_models(REGISTRY_ID)
    assert api.received[0].body == {"registry_id": REGISTRY_ID}
    bare, full = page.registered_models
    assert bare == RegisteredModel(name="bare")
    assert bare.latest_versions is None and bare.tags == {} and bare.aliases == {}
    assert full.tags == {"k": "v"}
    assert full.aliases == {"champion": "2"}
    assert full.latest_versions[0].version == "2"
    assert page.next_page_token is None


def progress(**fields: object) -> UploadProgress:
    data = {
        "model_version_id": 7,
        "status": "uploading",
        "bytes_done": 0,
        "bytes_total": None,
        "bytes_per_second": None,
        "attempts": 1,
        "error": None,
        "started_at": "2026-03-01T10:00:00+00:00",
        "finished_at": None,
        **fields,
    }
    return UploadProgress.from_json(data)  # type: ignore[arg-type]


def test_an_upload_of_unknown_size_has_no_fraction_or_time_left() -> None:
    waiting = progress()
    assert (waiting.done, waiting.fraction, waiting.seconds_left) == (False, None, None)
    assert waiting.elapsed_seconds is None
    moving = progress(bytes_done=300, bytes_per_second=150.0)
    assert (moving.fraction, moving.seconds_left) == (None, None)


def test_an_upload_in_flight_tells_its_fraction_and_time_left() -> None:
    moving = progress(bytes_done=300, bytes_total=1200, bytes_per_second=150.0)
    assert (moving.fraction, moving.seconds_left) == (0.25, 6.0)
    stalled = progress(bytes_done=300, bytes_total=1200, bytes_per_second=0)
    assert (stalled.fraction, stalled.seconds_left) == (0.25, None)
    # A registry that sent more than it announced: never past the end.
    over = progress(bytes_done=1300, bytes_total=1200, bytes_per_second=10.0)
    assert (over.fraction, over.seconds_left) == (1.0, 0.0)


def test_an_ended_upload_is_done_and_tells_how_long_it_took() -> None:
    ready = progress(
        status="ready",
        bytes_done=0,
        bytes_total=0,
        finished_at="2026-03-01T10:01:05.5Z",
    )
    assert (ready.done, ready.fraction, ready.seconds_left) == (True, 1.0, 0.0)
    assert ready.elapsed_seconds == 65.5
    failed = progress(status="error", bytes_done=0, bytes_total=900, error="cancelled by a@x")
    assert (failed.done, failed.fraction, failed.seconds_left) == (True, 0.0, None)
    assert failed.error == "cancelled by a@x"


def test_upload_fields_the_server_leaves_out_get_defaults() -> None:
    bare = UploadProgress.from_json({"model_version_id": "12", "status": "uploading"})
    assert bare == UploadProgress(12, "uploading", 0, None, None, 0, None, None, None)
    assert (bare.name, bare.workspace_id) == ("", None)
    odd = progress(error="", bytes_per_second="fast", started_at="yesterday", finished_at="")
    assert (odd.error, odd.bytes_per_second, odd.elapsed_seconds) == (None, None, None)


def test_a_version_status_reads_as_an_upload() -> None:
    """What a Wallaroo instance tells: ready and error end an upload; the SDK's other
    statuses (pending_load_native, ...) mean it is still going."""

    def version(status: str) -> UploadedModel:
        entry = {
            "model_version": {
                "id": 7,
                "name": "m",
                "status": status,
                "workspace_id": 3,
                "file_info": {"size": 50},
                "created_at": "2026-03-01T10:00:00+00:00",
            }
        }
        return UploadedModel.from_json(entry)  # type: ignore[arg-type]

    sdk_statuses = ("uploading", "pending_load_native", "pending_load_container", "ready", "error")
    statuses = {s: UploadProgress.from_model_version(version(s)).status for s in sdk_statuses}
    assert statuses == {
        "uploading": "uploading",
        "pending_load_native": "uploading",
        "pending_load_container": "uploading",
        "ready": "ready",
        "error": "error",
    }
    ready = UploadProgress.from_model_version(version("ready"))
    assert (ready.bytes_done, ready.bytes_total, ready.name, ready.workspace_id) == (50, 50, "m", 3)
