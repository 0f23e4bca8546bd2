"""Rows of the panel's tables as the view receives them: small dicts of display text.

The view never formats data itself, so every host shows the same text, and a row is only as
big as what is on screen (no descriptions of other rows, no raw timestamps, no tags).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from wallaroo_registry_ui.contract import PREVIEW_BYTES
from wallaroo_registry_ui.panel.upload_watch import FollowedUpload

TEXT_FILE_NAMES = frozenset(
    {"MLmodel", "requirements.txt", "conda.yaml", "python_env.yaml", "registered_model_meta"}
)
TEXT_SUFFIXES = frozenset(
    {".txt", ".yaml", ".yml", ".json", ".md", ".cfg", ".toml", ".ini", ".py", ".csv"}
)
MAX_CELL_CHARS = 300
SHORT_SHA = 12
UPLOAD_LABELS = {
    "uploading": "Uploading",
    "ready": "Ready",
    "error": "Failed",
    "unknown": "Not reported",
}


def human_size(size: Any) -> str:
    """``40.0 MiB`` for 41943040; ``""`` when the size is unknown."""
    if size is None or pd.isna(size):
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def human_rate(bytes_per_second: float | None) -> str:
    """``4.1 MiB/s``; ``""`` before bytes have moved."""
    if bytes_per_second is None or bytes_per_second <= 0:
        return ""
    return f"{human_size(bytes_per_second)}/s"


def time_left(seconds: float | None) -> str:
    """``8 s left``, ``3 min 5 s left``, ``1 h 12 min left``; ``""`` when nobody can tell."""
    if seconds is None or seconds < 0:
        return ""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s left"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s left"
    return f"{whole // 3600} h {whole % 3600 // 60} min left"


def short_time(value: Any) -> str:
    """A UTC time to the minute, as people read it (``2026-11-29 08:49``)."""
    if value is None or pd.isna(value):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, str | list | tuple) and pd.isna(value)):
        return ""
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def stage_text(value: Any) -> str:
    """MLflow's stage "None" means no stage: shown as nothing."""
    return ", ".join(s for s in _text(value).split(", ") if s and s != "None")


def is_previewable(path: str, size: Any) -> bool:
    """Small text files a person may want to read (MLmodel, requirements.txt, ...)."""
    name = PurePosixPath(path).name
    if name not in TEXT_FILE_NAMES and PurePosixPath(name).suffix.lower() not in TEXT_SUFFIXES:
        return False
    return size is None or pd.isna(size) or int(size) <= PREVIEW_BYTES


def model_rows(page: pd.DataFrame) -> list[dict[str, str]]:
    """Registered models: name, latest version, stages, aliases, owner, last updated."""
    return [
        {
            "name": _text(row.name),
            "latest_version": _text(row.latest_version),
            "stages": stage_text(row.stages),
            "aliases": _text(row.aliases),
            "owner": _text(row.user_id),
            "updated": short_time(row.updated_at),
        }
        for row in page.itertuples(index=False)
    ]


def version_rows(page: pd.DataFrame) -> list[dict[str, str]]:
    """A model's versions with stage, aliases, status, run, source, times and description."""
    return [
        {
            "version": _text(row.version),
            "stage": stage_text(row.current_stage),
            "aliases": _text(row.aliases),
            "status": _text(row.status),
            "run_id": _text(row.run_id),
            "source": _text(row.source),
            "created": short_time(row.created_at),
            "updated": short_time(row.updated_at),
            "description": _text(row.description),
        }
        for row in page.itertuples(index=False)
    ]


def artifact_tree(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Files and folders in tree order (each folder before what it holds), with depth."""
    entries: dict[str, dict[str, Any]] = {}
    for row in frame.itertuples(index=False):
        path = str(row.relative_path).strip("/")
        if not path:
            continue
        parts = PurePosixPath(path).parts
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            entries.setdefault(folder, _tree_entry(folder, True, None))
        if bool(row.is_dir):
            entries.setdefault(path, _tree_entry(path, True, None))
        else:
            entries[path] = _tree_entry(path, False, row.file_size)
    return [entries[key] for key in sorted(entries, key=lambda p: PurePosixPath(p).parts)]


def _tree_entry(path: str, is_dir: bool, size: Any) -> dict[str, Any]:
    return {
        "path": path,
        "name": PurePosixPath(path).name,
        "depth": len(PurePosixPath(path).parts) - 1,
        "is_dir": is_dir,
        "size": "" if is_dir else human_size(size),
        "previewable": not is_dir and is_previewable(path, size),
    }


def uploaded_rows(page: pd.DataFrame) -> list[dict[str, str]]:
    """Uploaded model versions: id, name, framework, sha256, where they came from, when."""
    rows = []
    for row in page.itertuples(index=False):
        source = ""
        if row.source_model_name:
            source = f"{row.source_model_name} v{row.source_version}"
        rows.append(
            {
                "id": _text(row.version_id),
                "name": _text(row.name),
                "framework": _text(row.framework),
                "status": _text(row.status),
                "sha": _text(row.sha)[:12],
                "source": _text(source),
                "created": short_time(row.created_at),
            }
        )
    return rows


def upload_job_rows(uploads: Sequence[FollowedUpload]) -> list[dict[str, Any]]:
    """Uploads in flight and just ended: what each moves, how far, how fast, how it ended.

    ``fraction`` (0 to 1, None while the size is unknown) drives the progress bar; every other
    value is display text, empty when there is nothing to say.
    """
    return [_upload_job_row(upload) for upload in uploads]


def _upload_job_row(upload: FollowedUpload) -> dict[str, Any]:
    progress, status = upload.progress, upload.status
    flying = status == "uploading"
    row: dict[str, Any] = {
        "id": str(upload.model_version_id),
        "name": _text(upload.name),
        "file": _text(upload.file_name),
        "status": status,
        "label": UPLOAD_LABELS.get(status, status),
        "fraction": None,
        "percent": "",
        "bytes": "",
        "rate": "",
        "time_left": "",
        "attempts": "",
        "error": "",
        "sha": _text(upload.sha)[:SHORT_SHA] if status == "ready" else "",
        "note": _text(upload.note),
        "cancellable": flying,
    }
    if progress is None:
        return row
    if progress.attempts > 1:
        row["attempts"] = f"{progress.attempts} attempts"
    if status == "error":  # no bytes are kept: only the reason is worth showing
        row["error"] = _text(progress.error) or "The upload failed; the service gave no reason."
        return row
    fraction = 1.0 if status == "ready" else progress.fraction
    if fraction is not None:
        fraction = min(1.0, max(0.0, float(fraction)))
        row["fraction"] = fraction
        row["percent"] = f"{int(fraction * 100)}%"
    done = human_size(progress.bytes_done)
    total = human_size(progress.bytes_total)
    row["bytes"] = f"{done} of {total}" if total else done
    row["rate"] = human_rate(progress.bytes_per_second)
    if flying:
        row["time_left"] = time_left(progress.seconds_left)
        if progress.bytes_done == 0 and not progress.bytes_per_second:
            row["label"] = "Starting"
    return row
