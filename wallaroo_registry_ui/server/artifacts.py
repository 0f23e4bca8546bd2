"""Where uploaded model files live: a local directory, written so no half file is ever seen.

Bytes go to a temporary file next to their final place, hashed as they arrive; only a
complete, verified file is renamed into place, and anything else is removed.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class IncompleteArtifact(Exception):
    """The bytes received do not match what the registry announced."""


@dataclass(frozen=True)
class StagedFile:
    """A fully received file waiting to be committed under ``key``."""

    temp_path: Path
    sha256: str
    size: int


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def stage(self, chunks: Iterable[bytes], expected_size: int | None = None) -> StagedFile:
        """Write ``chunks`` to a temporary file while hashing; memory stays one chunk."""
        temp_path = self.root / f".incoming-{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        size = 0
        try:
            with open(temp_path, "xb") as out:
                for chunk in chunks:
                    if not chunk:
                        continue
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if expected_size is not None and size != expected_size:
                raise IncompleteArtifact(
                    f"received {size} bytes but the registry announced {expected_size}"
                )
        except BaseException:
            temp_path.unlink(missing_ok=True)
            raise
        return StagedFile(temp_path=temp_path, sha256=digest.hexdigest(), size=size)

    def commit(self, staged: StagedFile, key: str) -> Path:
        """Move a staged file to its final place under ``key`` (``<version uuid>/<file>``)."""
        final = self.path_of(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.temp_path, final)
        return final

    def discard(self, staged: StagedFile | None = None, key: str | None = None) -> None:
        if staged is not None:
            staged.temp_path.unlink(missing_ok=True)
        if key is not None:
            final = self.path_of(key)
            final.unlink(missing_ok=True)
            if (
                final.parent != self.root
                and final.parent.exists()
                and not any(final.parent.iterdir())
            ):
                final.parent.rmdir()

    def sweep(self, known_versions: set[str]) -> int:
        """Remove what a killed process left: staged files, and folders no model version owns.

        Folders are named by model version uuid; one without a row was being committed when
        the service stopped, so its model was never recorded.
        """
        removed = 0
        for entry in self.root.iterdir():
            if entry.is_file() and entry.name.startswith(".incoming-"):
                entry.unlink(missing_ok=True)
                removed += 1
            elif entry.is_dir() and entry.name not in known_versions:
                for child in entry.iterdir():
                    child.unlink(missing_ok=True)
                entry.rmdir()
                removed += 1
        return removed

    def path_of(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("artifact key escapes the artifact store")
        return path
