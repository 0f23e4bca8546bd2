"""Puts what the benchmarks read into MLflow, through MLflow's own REST API.

Files go up through the artifact proxy in 1 MiB chunks generated on the fly (no local
copy), and each becomes a registered model version whose source is the run's folder.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import requests

API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
CHUNK = 1 << 20
TIMEOUT = 300.0


@dataclass(frozen=True)
class SeededFile:
    """A file in a registered version: where the proxy serves it and what it must hash to."""

    model_name: str
    version: str
    relative_path: str
    size: int
    sha256: str
    proxy_url: str


@dataclass(frozen=True)
class SeededTree:
    """A version with many small files in nested folders, for listing."""

    model_name: str
    version: str
    files: int
    folders: int


@dataclass
class Seeder:
    """Seeds one MLflow server on demand and remembers what it made."""

    url: str
    session: requests.Session = field(default_factory=requests.Session)
    _experiment_id: str | None = None
    _files: dict[int, SeededFile] = field(default_factory=dict)
    _bulk: int = 0
    _tree: SeededTree | None = None

    def close(self) -> None:
        self.session.close()

    def file(self, size: int) -> SeededFile:
        """A random file of ``size`` bytes in its own registered model (made once per size)."""
        if size not in self._files:
            self._files[size] = self._log_file(f"bench-file-{size}", "weights.bin", size)
        return self._files[size]

    def bulk_models(self, count: int) -> int:
        """At least ``count`` registered models named ``bench-model-NNNNN``; how many exist."""
        for index in range(self._bulk, count):
            self._post(
                "registered-models/create",
                {
                    "name": f"bench-model-{index:05d}",
                    "description": f"benchmark model {index}",
                    "tags": [{"key": "team", "value": f"team-{index % 7}"}],
                },
            )
        self._bulk = max(self._bulk, count)
        return self._bulk

    def tree(self, folders: int, files_per_folder: int) -> SeededTree:
        """A version whose files sit in ``folders`` nested folders (made once)."""
        if self._tree is None:
            run_id, run_root = self._new_run()
            paths = ["MLmodel", "requirements.txt"]
            for folder in range(folders):
                nested = f"weights/block{folder:02d}/layer"
                paths += [f"{nested}/part{index:02d}.bin" for index in range(files_per_folder)]
            for path in paths:
                self._put(f"{run_root}/model/{path}", iter([random.randbytes(512)]))
            version = self._register("bench-tree", f"mlflow-artifacts:/{run_root}/model", run_id)
            self._tree = SeededTree("bench-tree", version, len(paths), 2 * folders + 1)
        return self._tree

    def _log_file(self, model_name: str, name: str, size: int) -> SeededFile:
        run_id, run_root = self._new_run()
        digest = hashlib.sha256()
        self._put(f"{run_root}/model/{name}", _random_chunks(size, digest))
        version = self._register(model_name, f"mlflow-artifacts:/{run_root}/model", run_id)
        proxy_url = f"{self.url}{PROXY}/{run_root}/model/{name}"
        return SeededFile(model_name, version, name, size, digest.hexdigest(), proxy_url)

    def _new_run(self) -> tuple[str, str]:
        """A new run: its id and its artifact folder as a path under the proxy."""
        if self._experiment_id is None:
            self._experiment_id = self._post("experiments/create", {"name": "benchmarks"})[
                "experiment_id"
            ]
        run = self._post("runs/create", {"experiment_id": self._experiment_id})["run"]
        uri = run["info"]["artifact_uri"]
        if not uri.startswith("mlflow-artifacts:/"):
            raise RuntimeError(f"MLflow does not proxy artifacts here: {uri}")
        return run["info"]["run_id"], uri.removeprefix("mlflow-artifacts:").lstrip("/")

    def _register(self, model_name: str, source: str, run_id: str) -> str:
        self._post("registered-models/create", {"name": model_name})
        body = {"name": model_name, "source": source, "run_id": run_id}
        return str(self._post("model-versions/create", body)["model_version"]["version"])

    def _put(self, path: str, chunks: Iterator[bytes]) -> None:
        response = self.session.put(f"{self.url}{PROXY}/{path}", data=chunks, timeout=TIMEOUT)
        response.raise_for_status()

    def _post(self, call: str, body: dict) -> dict:
        response = self.session.post(f"{self.url}{API}/{call}", json=body, timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def _random_chunks(size: int, digest: _Digest) -> Iterator[bytes]:
    """``size`` random bytes in 1 MiB chunks, hashed as they are made."""
    rng = random.Random(size)
    left = size
    while left:
        chunk = rng.randbytes(min(CHUNK, left))
        digest.update(chunk)
        left -= len(chunk)
        yield chunk
