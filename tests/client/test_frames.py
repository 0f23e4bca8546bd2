"""Records as DataFrames: fixed columns even when empty, every field in its column, UTC times,
and one sorted page of a frame for the panel."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from support.api_samples import MVC, REGISTRY_ID, VERSION
from support.scripted_api import ScriptedApi, ok

from wallaroo_registry_ui.client import RegistryClient, frames
from wallaroo_registry_ui.client.records import (
    Artifact,
    ModelVersion,
    RegisteredModel,
    Registry,
    UploadedModel,
    UploadProgress,
    Workspace,
)


@pytest.mark.parametrize(
    ("build", "columns"),
    [
        (frames.workspaces_frame, frames.WORKSPACE_COLUMNS),
        (frames.registries_frame, frames.REGISTRY_COLUMNS),
        (frames.registered_models_frame, frames.REGISTERED_MODEL_COLUMNS),
        (frames.model_versions_frame, frames.MODEL_VERSION_COLUMNS),
        (frames.artifacts_frame, frames.ARTIFACT_COLUMNS),
        (frames.uploaded_models_frame, frames.UPLOADED_MODEL_COLUMNS),
        (frames.uploads_frame, frames.UPLOAD_COLUMNS),
    ],
)
def test_empty_frames_keep_their_columns(
    build: Callable[[list], pd.DataFrame], columns: list[str]
) -> None:
    frame = build([])
    assert list(frame.columns) == columns
    assert frame.empty
    for column in ("created_at", "updated_at", "modified_at", "started_at", "finished_at"):
        if column in columns:
            assert isinstance(frame[column].dtype, pd.DatetimeTZDtype)
            assert str(frame[column].dtype.tz) == "UTC"


def test_client_frames_are_empty_but_shaped(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond("/v1/api/workspaces/list", ok({"workspaces": []}))
    api.respond("/v1/api/models/list_registries", ok([]))
    api.respond("/v1/api/models/list_registry_model_versions", ok({"model_versions": []}))
    api.respond("/v1/api/models/list_registry_model_version_artifacts", ok([]))
    api.respond("/v1/api/models/list", ok({"models": []}))
    assert list(client.workspaces_frame().columns) == frames.WORKSPACE_COLUMNS
    assert list(client.registries_frame(3).columns) == frames.REGISTRY_COLUMNS
    assert (
        list(client.model_versions_frame(REGISTRY_ID, "m").columns) == frames.MODEL_VERSION_COLUMNS
    )
    assert list(client.artifacts_frame(REGISTRY_ID, "m", "1").columns) == frames.ARTIFACT_COLUMNS
    assert list(client.models_frame().columns) == frames.UPLOADED_MODEL_COLUMNS
    # Each frame asked for what its arguments name.
    assert [(r.path.removeprefix("/v1/api/"), r.body) for r in api.received] == [
        ("workspaces/list", {}),
        ("models/list_registries", {"workspace_id": 3}),
        (
            "models/list_registry_model_versions",
            {"registry_id": REGISTRY_ID, "model_name": "m", "max_results": 1000, "extended": True},
        ),
        (
            "models/list_registry_model_version_artifacts",
            {"registry_id": REGISTRY_ID, "name": "m", "version": "1"},
        ),
        ("models/list", {}),
    ]
    client.models_frame(3)
    assert api.received[-1].body == {"workspace_id": 3}


def _ms(epoch_ms: int) -> pd.Timestamp:
    return pd.Timestamp(epoch_ms, unit="ms", tz="UTC")


def test_frames_carry_every_field() -> None:
    """One record through each frame: every column holds what the record says."""
    workspace = Workspace.from_json(
        {
            "id": 3,
            "name": "team-a",
            "created_at": "2026-01-01T00:00:00+00:00",
            "created_by": "u1",
            "archived": False,
            "models": [1, 2],
            "pipelines": [],
        }
    )
    registry = Registry.from_json(
        {
            "id": REGISTRY_ID,
            "name": "reg",
            "url": "https://adb-1.azuredatabricks.net",
            "token": "dapi****-3",
            "kind": "databricks",
            "created_at": "2023-06-23T15:37:38.38427+00:00",
            "updated_at": "2023-06-24T15:37:38+00:00",
            "workspaces": [{"id": 3, "name": "team-a"}, {"id": 4, "name": "team-b"}],
        }
    )
    artifact = Artifact.from_json(
        {
            "file_size": 156456,
            "full_path": "https://adb-1.net/api/2.0/dbfs/read?path=/m/model.pkl",
            "is_dir": False,
            "modification_time": 1686942597646,
            "path": "/m/model.pkl",
        }
    )
    uploaded = UploadedModel.from_json(
        MVC,
        model={"id": 5, "name": "wine-quality", "workspace_id": 3},
        workspace={"id": 3, "name": "team-a"},
    )
    expected = {
        frames.workspaces_frame: (
            workspace,
            {
                "id": 3,
                "name": "team-a",
                "created_at": pd.Timestamp("2026-01-01T00:00:00Z"),
                "created_by": "u1",
                "archived": False,
                "model_count": 2,
                "pipeline_count": 0,
            },
        ),
        frames.registries_frame: (
            registry,
            {
                "id": REGISTRY_ID,
                "name": "reg",
                "kind": "databricks",
                "url": "https://adb-1.azuredatabricks.net",
                "token_hint": "dapi****-3",
                "workspaces": "team-a, team-b",
                "created_at": pd.Timestamp("2023-06-23T15:37:38.38427Z"),
                "updated_at": pd.Timestamp("2023-06-24T15:37:38Z"),
            },
        ),
        frames.model_versions_frame: (
            ModelVersion.from_json(VERSION),
            {
                "name": "wine_quality",
                "version": "2",
                "current_stage": "Production",
                "status": "READY",
                "aliases": "champion",
                "description": "",
                "user_id": "",
                "run_id": "r1",
                "run_link": "",
                "source": "models:/wine_quality/2",
                "tags": "team=ml",
                "created_at": _ms(1686942576120),
                "updated_at": _ms(1686942597646),
            },
        ),
        frames.artifacts_frame: (
            artifact,
            {
                "path": "/m/model.pkl",
                "file_name": "model.pkl",
                "relative_path": "m/model.pkl",
                "is_dir": False,
                "file_size": 156456,
                "modified_at": _ms(1686942597646),
                "full_path": "https://adb-1.net/api/2.0/dbfs/read?path=/m/model.pkl",
            },
        ),
        frames.uploaded_models_frame: (
            uploaded,
            {
                "model_id": 5,
                "name": "wine-quality",
                "workspace_id": 3,
                "workspace_name": "team-a",
                "version_id": 7,
                "version": "u-1",
                "status": "ready",
                "framework": "sklearn",
                "python_version": "3.8",
                "requirements": "x",
                "runtime": "flight",
                "visibility": "private",
                "file_name": "model.pkl",
                "size": 1234,
                "sha": "ab" * 32,
                "source_registry_id": REGISTRY_ID,
                "source_model_name": "wine_quality",
                "source_version": "2",
                "source_path": "/model.pkl",
                "created_at": pd.Timestamp("2026-01-02T03:04:05Z"),
                "created_by": "me@example.com",
            },
        ),
    }
    for build, (record, row) in expected.items():
        frame = build([record])
        assert len(frame) == 1
        assert frame.iloc[0].to_dict() == row, build.__name__


def test_uploads_frame_carries_progress_and_leaves_unknowns_empty() -> None:
    moving = UploadProgress.from_json(
        {
            "model_version_id": 9,
            "status": "uploading",
            "bytes_done": 300,
            "bytes_total": 1200,
            "bytes_per_second": 100.0,
            "attempts": 2,
            "error": None,
            "started_at": "2026-03-01T10:00:00.5+00:00",
            "finished_at": None,
            "name": "big-model",
            "workspace_id": 3,
        }
    )
    waiting = UploadProgress.from_json(
        {"model_version_id": 10, "status": "uploading", "bytes_done": 0, "bytes_total": None}
    )
    frame = frames.uploads_frame([moving, waiting])
    assert frame.iloc[0].to_dict() == {
        "model_version_id": 9,
        "name": "big-model",
        "workspace_id": 3,
        "status": "uploading",
        "bytes_done": 300,
        "bytes_total": 1200,
        "fraction": 0.25,
        "bytes_per_second": 100.0,
        "seconds_left": 9.0,
        "attempts": 2,
        "error": "",
        "started_at": pd.Timestamp("2026-03-01T10:00:00.5Z"),
        "finished_at": pd.NaT,
    }
    second = frame.iloc[1]
    assert pd.isna(second["bytes_total"]) and pd.isna(second["workspace_id"])
    assert pd.isna(second["fraction"]) and pd.isna(second["seconds_left"])
    assert pd.isna(second["bytes_per_second"]) and pd.isna(second["started_at"])
    assert frame["fraction"].dtype == "float64"
    assert str(frame["bytes_total"].dtype) == "Int64"


def test_frame_times_are_utc_from_epoch_ms_and_iso() -> None:
    models = frames.registered_models_frame(
        [RegisteredModel.from_json({"name": "m", "creation_timestamp": 1686940722329})]
    )
    assert models.loc[0, "created_at"] == pd.Timestamp("2023-06-16T18:38:42.329Z")
    assert pd.isna(models.loc[0, "updated_at"])
    registries = frames.registries_frame(
        [Registry.from_json({"id": "r", "created_at": "2023-06-23T17:37:38+02:00"})]
    )
    assert registries.loc[0, "created_at"] == pd.Timestamp("2023-06-23T15:37:38Z")


def test_registered_models_frame_summarises_versions() -> None:
    model = RegisteredModel.from_json(
        {
            "name": "wine_quality",
            "latest_versions": [
                dict(VERSION, version="9", current_stage="Archived"),
                dict(VERSION, version="10"),
            ],
            "aliases": {"champion": "10"},
        }
    )
    row = frames.registered_models_frame([model]).iloc[0]
    assert row["latest_version"] == "10"
    assert row["stages"] == "Archived, Production"
    assert row["aliases"] == "champion@10"


def _versions_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "version": ["1", "10", "2", "9", "3"],
            "name": ["Alpha", "beta", "gamma", "Beta-two", "delta"],
            "stage": ["Production", "Archived", "None", "Production", "Staging"],
        }
    )


def test_page_of_sorts_text_numbers_as_numbers() -> None:
    page, total = frames.page_of(_versions_frame(), offset=0, limit=10, sort_by="version")
    assert list(page["version"]) == ["1", "2", "3", "9", "10"]
    assert total == 5
    page, _ = frames.page_of(
        _versions_frame(), offset=0, limit=2, sort_by="version", ascending=False
    )
    assert list(page["version"]) == ["10", "9"]


def test_page_of_sorts_text_case_blind() -> None:
    page, _ = frames.page_of(_versions_frame(), offset=0, limit=10, sort_by="name")
    assert list(page["name"]) == ["Alpha", "beta", "Beta-two", "delta", "gamma"]


def test_page_of_offsets_after_sort_and_keeps_the_index() -> None:
    page, total = frames.page_of(_versions_frame(), offset=1, limit=2, sort_by="version")
    assert total == 5
    assert list(page["version"]) == ["2", "3"]
    assert list(page.index) == [2, 4]
    page, total = frames.page_of(_versions_frame(), offset=10, limit=5)
    assert page.empty and total == 5


def test_page_of_rejects_unknown_columns_and_negative_bounds() -> None:
    with pytest.raises(ValueError):
        frames.page_of(_versions_frame(), offset=0, limit=5, sort_by="nope")
    with pytest.raises(ValueError):
        frames.page_of(_versions_frame(), offset=-1, limit=5)


def test_page_of_on_an_empty_frame() -> None:
    page, total = frames.page_of(frames.artifacts_frame([]), offset=0, limit=5, sort_by="path")
    assert total == 0 and list(page.columns) == frames.ARTIFACT_COLUMNS
