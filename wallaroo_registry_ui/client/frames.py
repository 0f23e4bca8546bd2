"""Records as pandas DataFrames, and one page of a DataFrame for the notebook panel.

Every frame has a fixed column list, present even when there are no rows, so code and views
written against a frame never meet a missing column. Times become UTC pandas datetimes whether
the API sent epoch milliseconds (registry side) or ISO-8601 (our own objects).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from wallaroo_registry_ui.client.records import (
    Artifact,
    ModelVersion,
    RegisteredModel,
    Registry,
    UploadedModel,
    UploadProgress,
    Workspace,
)

WORKSPACE_COLUMNS = [
    "id",
    "name",
    "created_at",
    "created_by",
    "archived",
    "model_count",
    "pipeline_count",
]
REGISTRY_COLUMNS = [
    "id",
    "name",
    "kind",
    "url",
    "token_hint",
    "workspaces",
    "created_at",
    "updated_at",
]
REGISTERED_MODEL_COLUMNS = [
    "name",
    "description",
    "user_id",
    "latest_version",
    "stages",
    "aliases",
    "tags",
    "created_at",
    "updated_at",
]
MODEL_VERSION_COLUMNS = [
    "name",
    "version",
    "current_stage",
    "status",
    "aliases",
    "description",
    "user_id",
    "run_id",
    "run_link",
    "source",
    "tags",
    "created_at",
    "updated_at",
]
ARTIFACT_COLUMNS = [
    "path",
    "file_name",
    "relative_path",
    "is_dir",
    "file_size",
    "modified_at",
    "full_path",
]
UPLOADED_MODEL_COLUMNS = [
    "model_id",
    "name",
    "workspace_id",
    "workspace_name",
    "version_id",
    "version",
    "status",
    "framework",
    "python_version",
    "requirements",
    "runtime",
    "visibility",
    "file_name",
    "size",
    "sha",
    "source_registry_id",
    "source_model_name",
    "source_version",
    "source_path",
    "created_at",
    "created_by",
]
UPLOAD_COLUMNS = [
    "model_version_id",
    "name",
    "workspace_id",
    "status",
    "bytes_done",
    "bytes_total",
    "fraction",
    "bytes_per_second",
    "seconds_left",
    "attempts",
    "error",
    "started_at",
    "finished_at",
]

TIME_DTYPE = "datetime64[ns, UTC]"
_TIME_COLUMNS = ("created_at", "updated_at", "modified_at", "started_at", "finished_at")
_INT_COLUMNS = frozenset(
    {
        "model_count",
        "pipeline_count",
        "file_size",
        "model_id",
        "workspace_id",
        "version_id",
        "size",
        "model_version_id",
        "bytes_done",
        "bytes_total",
        "attempts",
    }
)
_FLOAT_COLUMNS = frozenset({"fraction", "bytes_per_second", "seconds_left"})


def utc_times(values: Iterable[Any]) -> pd.Series:
    """UTC datetimes from epoch milliseconds or ISO-8601 text; anything else becomes NaT."""
    raw = pd.Series(list(values), dtype=object)
    numbers = pd.to_numeric(raw, errors="coerce")
    times = pd.to_datetime(numbers, unit="ms", utc=True).astype(TIME_DTYPE)
    text = numbers.isna() & raw.map(lambda v: isinstance(v, str) and v.strip() != "")
    if text.any():
        parsed = pd.to_datetime(raw[text], utc=True, errors="coerce", format="ISO8601")
        times[text] = parsed.astype(TIME_DTYPE)
    return times


def _frame(
    rows: list[dict[str, Any]], columns: Sequence[str], ints: Iterable[str] = ()
) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    int_columns = _INT_COLUMNS.union(ints)
    for column in columns:
        if column in _TIME_COLUMNS:
            frame[column] = utc_times(frame[column]).set_axis(frame.index)
        elif column in int_columns:
            frame[column] = pd.array(frame[column].tolist(), dtype="Int64")
        elif column in _FLOAT_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def _joined(items: Iterable[str]) -> str:
    return ", ".join(items)


def _key_values(mapping: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in mapping.items())


def workspaces_frame(workspaces: Iterable[Workspace]) -> pd.DataFrame:
    """One row per workspace."""
    rows = [
        {
            "id": w.id,
            "name": w.name,
            "created_at": w.created_at,
            "created_by": w.created_by,
            "archived": w.archived,
            "model_count": len(w.models),
            "pipeline_count": len(w.pipelines),
        }
        for w in workspaces
    ]
    return _frame(rows, WORKSPACE_COLUMNS, ints=["id"])


def registries_frame(registries: Iterable[Registry]) -> pd.DataFrame:
    """One row per registry; ``workspaces`` lists attached workspace names where known."""
    rows = [
        {
            "id": r.id,
            "name": r.name,
            "kind": r.kind or "",
            "url": r.url,
            "token_hint": r.token_hint,
            "workspaces": _joined(w.name for w in r.workspaces),
            "created_at": r.created_at,
            "updated_at": r.updated_at,
        }
        for r in registries
    ]
    return _frame(rows, REGISTRY_COLUMNS)


def _version_number(version: str) -> tuple[int, str]:
    return (int(version), version) if version.isdigit() else (-1, version)


def registered_models_frame(models: Iterable[RegisteredModel]) -> pd.DataFrame:
    """One row per registered model, with its newest version and the stages it is in."""
    rows = []
    for m in models:
        versions = m.latest_versions or []
        newest = max((v.version for v in versions), key=_version_number, default="")
        stages = sorted({v.current_stage for v in versions if v.current_stage})
        rows.append(
            {
                "name": m.name,
                "description": m.description,
                "user_id": m.user_id,
                "latest_version": newest,
                "stages": _joined(stages),
                "aliases": _joined(f"{a}@{v}" for a, v in m.aliases.items()),
                "tags": _key_values(m.tags),
                "created_at": m.creation_timestamp,
                "updated_at": m.last_updated_timestamp,
            }
        )
    return _frame(rows, REGISTERED_MODEL_COLUMNS)


def model_versions_frame(versions: Iterable[ModelVersion]) -> pd.DataFrame:
    """One row per model version."""
    rows = [
        {
            "name": v.name,
            "version": v.version,
            "current_stage": v.current_stage,
            "status": v.status,
            "aliases": _joined(v.aliases),
            "description": v.description,
            "user_id": v.user_id,
            "run_id": v.run_id,
            "run_link": v.run_link,
            "source": v.source,
            "tags": _key_values(v.tags),
            "created_at": v.creation_timestamp,
            "updated_at": v.last_updated_timestamp,
        }
        for v in versions
    ]
    return _frame(rows, MODEL_VERSION_COLUMNS)


def artifacts_frame(artifacts: Iterable[Artifact]) -> pd.DataFrame:
    """One row per file or directory of a model version."""
    rows = [
        {
            "path": a.path,
            "file_name": a.file_name,
            "relative_path": a.relative_path,
            "is_dir": a.is_dir,
            "file_size": a.file_size,
            "modified_at": a.modification_time,
            "full_path": a.full_path,
        }
        for a in artifacts
    ]
    return _frame(rows, ARTIFACT_COLUMNS)


def uploaded_models_frame(models: Iterable[UploadedModel]) -> pd.DataFrame:
    """One row per uploaded model version."""
    rows = []
    for m in models:
        row = {column: getattr(m, column) for column in UPLOADED_MODEL_COLUMNS}
        row["requirements"] = _joined(m.requirements)
        rows.append(row)
    return _frame(rows, UPLOADED_MODEL_COLUMNS)


def uploads_frame(uploads: Iterable[UploadProgress]) -> pd.DataFrame:
    """One row per upload job, with its fraction done and time left; ``error`` is ``""``
    for an upload that has not failed."""
    rows = [
        {
            "model_version_id": u.model_version_id,
            "name": u.name,
            "workspace_id": u.workspace_id,
            "status": u.status,
            "bytes_done": u.bytes_done,
            "bytes_total": u.bytes_total,
            "fraction": u.fraction,
            "bytes_per_second": u.bytes_per_second,
            "seconds_left": u.seconds_left,
            "attempts": u.attempts,
            "error": u.error or "",
            "started_at": u.started_at,
            "finished_at": u.finished_at,
        }
        for u in uploads
    ]
    return _frame(rows, UPLOAD_COLUMNS)


def _sort_key(column: pd.Series) -> pd.Series:
    """Numbers-as-text sort as numbers (version "10" after "9"); text sorts case-blind."""
    if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        present = column.dropna()
        numbers = pd.to_numeric(present, errors="coerce")
        if len(present) and not numbers.isna().any():
            return pd.to_numeric(column, errors="coerce")
        return column.map(lambda v: v.lower() if isinstance(v, str) else v)
    return column


def page_of(
    frame: pd.DataFrame,
    *,
    offset: int,
    limit: int,
    sort_by: str | None = None,
    ascending: bool = True,
) -> tuple[pd.DataFrame, int]:
    """One page of ``frame`` after sorting, and how many rows it has in all.

    The page keeps the original index so a selection on screen maps back to the full frame.
    """
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must not be negative")
    if sort_by is not None and sort_by not in frame.columns:
        raise ValueError(f"cannot sort by {sort_by!r}: no such column")
    if sort_by is not None:
        frame = frame.sort_values(
            sort_by, ascending=ascending, kind="mergesort", na_position="last", key=_sort_key
        )
    return frame.iloc[offset : offset + limit], len(frame)
