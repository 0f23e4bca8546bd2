"""Where the demo keeps its state under the data dir, and what it remembers between runs.

Kept: the MLflow database and artifacts (seeded once), the registry service's database and
uploads, the copy of the notebook JupyterLab opens (``notebooks/``), and ``state.json`` (the
demo user's API token and the Jupyter token, mode 0600), so a second run shows what the first
one uploaded and an open browser tab keeps working.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class SavedState:
    """Secrets reused across runs while they still work."""

    api_token: str = ""
    jupyter_token: str = ""


@dataclass(frozen=True)
class DemoLayout:
    """The demo's folders under its data dir."""

    data_dir: Path

    @property
    def mlflow_dir(self) -> Path:
        return self.data_dir / "mlflow"

    @property
    def seeded_marker(self) -> Path:
        """Written once seeding finished; a folder without it is a half-seeded one."""
        return self.mlflow_dir / "seeded"

    @property
    def service_dir(self) -> Path:
        return self.data_dir / "registry"

    @property
    def jupyter_dir(self) -> Path:
        return self.data_dir / "jupyter"

    @property
    def notebooks_dir(self) -> Path:
        """Where the demo's JupyterLab works: copies of the tracked notebooks, so what a user
        runs and saves stays out of the repository."""
        return self.data_dir / "notebooks"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "state.json"

    def working_copy(self, tracked: Path) -> Path:
        """The copy of ``tracked`` the demo opens: made on the first run, and made again when
        the tracked notebook is newer than the copy (the copy it replaces is kept beside it,
        as ``<name>.previous.ipynb``)."""
        self.notebooks_dir.mkdir(parents=True, exist_ok=True)
        copy = self.notebooks_dir / tracked.name
        if copy.exists():
            if tracked.stat().st_mtime <= copy.stat().st_mtime:
                return copy
            copy.replace(copy.with_name(f"{tracked.stem}.previous{tracked.suffix}"))
        shutil.copy2(tracked, copy)
        return copy

    def load(self) -> SavedState:
        """What an earlier run saved (nothing if there is no readable state)."""
        try:
            values = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return SavedState()
        known = {key: str(values.get(key) or "") for key in asdict(SavedState())}
        return SavedState(**known)

    def save(self, state: SavedState) -> None:
        """Write the state readable by the owner only."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(asdict(state), out)

    def reset(self) -> None:
        """Forget everything the demo made (only its own folders and files)."""
        for folder in (self.mlflow_dir, self.service_dir, self.jupyter_dir, self.notebooks_dir):
            shutil.rmtree(folder, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)

    def drop_half_seeded_mlflow(self) -> None:
        """An interrupted seeding leaves a registry that would fail to seed again: start over."""
        if self.mlflow_dir.exists() and not self.seeded_marker.exists():
            shutil.rmtree(self.mlflow_dir)
