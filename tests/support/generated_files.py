"""Random files registered as model versions in a real MLflow server, through its REST API.

Each file goes up through MLflow's artifact proxy in 1 MiB pieces made on the fly (hashed as
they are made, so the sha256 the tests expect is not read back from anything under test), and
becomes the only file of a new registered model's version 1.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests

__all__ = ["GeneratedFile", "register_generated_file"]

API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
PIECE = 1 << 20
TIMEOUT = 120.0


@dataclass(frozen=True)
class GeneratedFile:
    """A registered file: where it is, what it must hash to, and the route MLflow serves it on.

    ``proxy_path`` is the artifact proxy's URL path for the file's bytes (what a connector
    downloads, and the prefix a fault is set on to touch this file and nothing else).
    """

    model_name: str
    version: str
    relative_path: str
    size: int
    sha256: str
    proxy_path: str

    @property
    def models_uri(self) -> str:
        """The upload path naming the file by its model and version."""
        return f"models:/{self.model_name}/{self.version}/{self.relative_path}"


def register_generated_file(
    mlflow_url: str, size: int, *, file_name: str = "weights.bin"
) -> GeneratedFile:
    """``size`` random bytes as ``file_name`` of version 1 of a new registered model."""
    token = uuid.uuid4().hex[:8]
    model_name = f"upload-jobs-{token}"
    with requests.Session() as session:

        def post(call: str, body: dict) -> dict:
            response = session.post(f"{mlflow_url}{API}/{call}", json=body, timeout=TIMEOUT)
            response.raise_for_status()
            return response.json()

        experiment = post("experiments/create", {"name": f"upload-jobs-{token}"})
        run = post("runs/create", {"experiment_id": experiment["experiment_id"]})["run"]
        artifact_uri = run["info"]["artifact_uri"]
        if not artifact_uri.startswith("mlflow-artifacts:/"):
            raise RuntimeError(f"this MLflow server does not proxy artifacts: {artifact_uri}")
        run_root = artifact_uri.removeprefix("mlflow-artifacts:").lstrip("/")
        proxy_path = f"{PROXY}/{run_root}/model/{file_name}"
        digest = hashlib.sha256()
        pieces = _random_pieces(size, token, digest.update)
        put = session.put(f"{mlflow_url}{proxy_path}", data=pieces, timeout=TIMEOUT)
        put.raise_for_status()
        post("registered-models/create", {"name": model_name})
        created = post(
            "model-versions/create",
            {
                "name": model_name,
                "source": f"mlflow-artifacts:/{run_root}/model",
                "run_id": run["info"]["run_id"],
            },
        )
    version = str(created["model_version"]["version"])
    return GeneratedFile(model_name, version, file_name, size, digest.hexdigest(), proxy_path)


def _random_pieces(size: int, seed: str, seen: Callable[[bytes], object]) -> Iterator[bytes]:
    """``size`` bytes drawn from ``seed``, each piece handed to ``seen`` as it is made."""
    rng = random.Random(seed)
    left = size
    while left:
        piece = rng.randbytes(min(PIECE, left))
        seen(piece)
        left -= len(piece)
        yield piece
