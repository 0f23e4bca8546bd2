"""Display rows for the view: sizes, stages, previewable files, the artifact tree, uploads."""

from __future__ import annotations

import json

from support.artifact_listing import artifact_listing

from wallaroo_registry_ui.client.records import UploadProgress
from wallaroo_registry_ui.panel import rows as view_rows
from wallaroo_registry_ui.panel.upload_watch import FollowedUpload


def test_display_rows() -> None:
    assert view_rows.human_size(None) == ""
    assert view_rows.human_size(512) == "512 B"
    assert view_rows.human_size(40 * 1024 * 1024) == "40.0 MiB"
    assert view_rows.is_previewable("MLmodel", 100)
    assert not view_rows.is_previewable("requirements.txt", 10**7)
    assert not view_rows.is_previewable("model.pkl", 10)
    assert view_rows.stage_text("None, Production") == "Production"
    assert view_rows.stage_text("None") == ""
    tree = view_rows.artifact_tree(artifact_listing(("b/c/d.txt", 3), ("a.txt", 1)))
    assert [(r["path"], r["depth"], r["is_dir"]) for r in tree] == [
        ("a.txt", 0, False),
        ("b", 0, True),
        ("b/c", 1, True),
        ("b/c/d.txt", 2, False),
    ]
    json.dumps(tree)


def _progress(status: str, done: int, total: int | None, **kw: object) -> UploadProgress:
    fields = {
        "bytes_per_second": None,
        "attempts": 1,
        "error": None,
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": None,
    }
    return UploadProgress(12, status, done, total, **{**fields, **kw})


def test_upload_job_rows_say_how_far_how_fast_and_how_it_ended() -> None:
    mib = 1024 * 1024
    moving = FollowedUpload(
        12,
        _progress("uploading", 12 * mib, 300 * mib, bytes_per_second=4 * mib, attempts=3),
        file_name="weights/big.bin",
        name="big-weights",
    )
    (row,) = view_rows.upload_job_rows([moving])
    assert row == {
        "id": "12",
        "name": "big-weights",
        "file": "weights/big.bin",
        "status": "uploading",
        "label": "Uploading",
        "fraction": 0.04,
        "percent": "4%",
        "bytes": "12.0 MiB of 300.0 MiB",
        "rate": "4.0 MiB/s",
        "time_left": "1 min 12 s left",
        "attempts": "3 attempts",
        "error": "",
        "sha": "",
        "note": "",
        "cancellable": True,
    }
    json.dumps(row)

    waiting = FollowedUpload(12, _progress("uploading", 0, None))
    (row,) = view_rows.upload_job_rows([waiting])
    shown = (row["label"], row["fraction"], row["percent"], row["bytes"])
    assert shown == ("Starting", None, "", "0 B")
    assert (row["rate"], row["time_left"], row["attempts"]) == ("", "", "")

    ready = FollowedUpload(12, _progress("ready", 40 * mib, 40 * mib), sha="f" * 64)
    (row,) = view_rows.upload_job_rows([ready])
    assert (row["fraction"], row["percent"], row["sha"]) == (1.0, "100%", "f" * 12)
    assert not row["cancellable"] and row["time_left"] == ""

    failed = FollowedUpload(
        12, _progress("error", 0, 40, error="cancelled by a@example.com", attempts=2)
    )
    (row,) = view_rows.upload_job_rows([failed])
    assert (row["label"], row["error"], row["sha"]) == ("Failed", "cancelled by a@example.com", "")
    assert (row["fraction"], row["bytes"], row["attempts"]) == (None, "", "2 attempts")

    before_first_answer = FollowedUpload(12)
    (row,) = view_rows.upload_job_rows([before_first_answer])
    assert (row["status"], row["cancellable"], row["bytes"]) == ("uploading", True, "")
    unknown = FollowedUpload(12, reported=False, note="not reported")
    (row,) = view_rows.upload_job_rows([unknown])
    assert (row["status"], row["cancellable"], row["note"]) == ("unknown", False, "not reported")


def test_rates_and_times_left() -> None:
    assert view_rows.human_rate(None) == view_rows.human_rate(0) == ""
    assert view_rows.human_rate(1536) == "1.5 KiB/s"
    assert view_rows.time_left(None) == ""
    assert view_rows.time_left(0.4) == "0 s left"
    assert view_rows.time_left(59.6) == "1 min 0 s left"
    assert view_rows.time_left(3 * 3600 + 125) == "3 h 2 min left"
