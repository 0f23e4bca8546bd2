"""An artifacts frame built from (path, size) pairs, as a registry would list a model's files."""

from __future__ import annotations

import pandas as pd

from wallaroo_registry_ui.client.frames import artifacts_frame
from wallaroo_registry_ui.client.records import Artifact


def artifact_listing(*entries: tuple[str, int]) -> pd.DataFrame:
    """One file row per ``(relative path, size)``, stored under ``s3://b/``."""
    return artifacts_frame(
        Artifact(path=p, relative_path=p, full_path=f"s3://b/{p}", file_size=size)
        for p, size in entries
    )
