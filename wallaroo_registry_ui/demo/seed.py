"""Fill an empty MLflow server with models: the full set every test looks at, or the demo's.

``seed_registry(url)`` registers real scikit-learn models, versions of every source kind
MLflow 3 produces, stages, aliases, tags, odd names, a 40 MB file and enough models to need
several pages, and returns what it made. ``seed_demo_registry(url)`` registers a few sample
models and one with nested files, quickly, for a first look.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from wallaroo_registry_ui.demo.sample_models import DEMO_SAMPLES, WINE, register_sample

WINE_MODEL = WINE.name
NESTED_MODEL = "nested_weights"
RUN_SOURCE_MODEL = "run_source_model"
EMPTY_MODEL = "empty_model"
HTML_MODEL = "<img src=x onerror=alert(1)>"
HTML_DESCRIPTION = "<script>alert('desc')</script>"
QUOTE_MODEL = "a'quote\"dq"
QUOTE_DECOY_MODEL = 'a"quote"dq'
UNICODE_MODEL = "模型-ü-😀 naïve"
BULK_PREFIX = "bulk-model-"
BULK_COUNT = 260
LARGE_FILE_SIZE = 40 * 1024 * 1024
LARGE_FILE_PATH = "weights/big.bin"


@dataclass(frozen=True)
class LargeFile:
    """The big random file: where it sits in the registry and what its bytes hash to."""

    model_name: str
    version: str
    relative_path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class SeedInfo:
    """What ``seed_registry`` created, so tests can check answers against it."""

    url: str
    wine_model: str
    wine_versions: tuple[str, ...]
    wine_stages: dict[str, str]
    wine_aliases: dict[str, str]
    wine_model_id: str
    nested_model: str
    nested_version: str
    nested_files: dict[str, int]
    run_source_model: str
    run_source_version: str
    run_id: str
    empty_model: str
    html_model: str
    html_description: str
    quote_model: str
    quote_decoy_model: str
    unicode_model: str
    odd_models: tuple[str, ...]
    bulk_models: tuple[str, ...]
    model_names: tuple[str, ...]
    large_file: LargeFile | None


def seed_registry(
    url: str, *, bulk_count: int = BULK_COUNT, large_file_size: int = LARGE_FILE_SIZE
) -> SeedInfo:
    """Seed the MLflow server at ``url`` (empty) and describe what is there.

    ``bulk_count`` extra models without versions make the listing span pages; a
    ``large_file_size`` of 0 leaves the big random file out.
    """
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(url)
    client = MlflowClient(tracking_uri=url)
    wine = register_sample(client, WINE)
    nested, run_source, run_id, nested_files, large = _register_nested_files(
        client, large_file_size
    )

    odd_models = (HTML_MODEL, QUOTE_MODEL, QUOTE_DECOY_MODEL, UNICODE_MODEL)
    first = wine.model_infos[0]
    for name in odd_models:
        description = HTML_DESCRIPTION if name == HTML_MODEL else f"odd name: {name}"
        client.create_registered_model(name, description=description)
        client.create_model_version(
            name, first.model_uri, run_id=first.run_id, model_id=first.model_id
        )
    client.create_registered_model(EMPTY_MODEL, description="No versions at all.")

    bulk = tuple(f"{BULK_PREFIX}{index:04d}" for index in range(bulk_count))
    with requests.Session() as session:
        for name in bulk:
            response = session.post(
                f"{url}/api/2.0/mlflow/registered-models/create", json={"name": name}, timeout=30
            )
            response.raise_for_status()

    names = (WINE_MODEL, NESTED_MODEL, RUN_SOURCE_MODEL, EMPTY_MODEL, *odd_models, *bulk)
    return SeedInfo(
        url=url,
        wine_model=WINE_MODEL,
        wine_versions=wine.versions,
        wine_stages=dict(WINE.stages),
        wine_aliases=dict(WINE.aliases),
        wine_model_id=wine.model_infos[-1].model_id,
        nested_model=NESTED_MODEL,
        nested_version=nested,
        nested_files=nested_files,
        run_source_model=RUN_SOURCE_MODEL,
        run_source_version=run_source,
        run_id=run_id,
        empty_model=EMPTY_MODEL,
        html_model=HTML_MODEL,
        html_description=HTML_DESCRIPTION,
        quote_model=QUOTE_MODEL,
        quote_decoy_model=QUOTE_DECOY_MODEL,
        unicode_model=UNICODE_MODEL,
        odd_models=odd_models,
        bulk_models=bulk,
        model_names=tuple(sorted(names)),
        large_file=LargeFile(NESTED_MODEL, nested, *large) if large else None,
    )


def seed_demo_registry(url: str) -> tuple[str, ...]:
    """Seed the MLflow server at ``url`` with the demo's models; their names."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(url)
    client = MlflowClient(tracking_uri=url)
    names = [register_sample(client, sample).name for sample in DEMO_SAMPLES]
    _register_nested_files(client, large_file_size=0)
    return (*names, NESTED_MODEL, RUN_SOURCE_MODEL)


def _register_nested_files(
    client: Any, large_file_size: int
) -> tuple[str, str, str, dict[str, int], tuple[str, int, str] | None]:
    """One run's folder of files registered twice: by its artifact URI and as ``runs:/``.

    Returns both versions, the run id, the files' sizes and the large file (if any).
    """
    import mlflow

    mlflow.set_experiment("nested-files")
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(scratch) / "model_dir"
        nested_files, large = _write_nested_files(model_dir, large_file_size)
        with mlflow.start_run(run_name="nested-files") as run:
            mlflow.log_artifacts(str(model_dir), "model_dir")
    run_id = run.info.run_id
    client.create_registered_model(NESTED_MODEL, description="Files in nested folders.")
    nested = client.create_model_version(
        NESTED_MODEL, f"{run.info.artifact_uri}/model_dir", run_id=run_id
    )
    client.create_registered_model(RUN_SOURCE_MODEL, description="A runs:/ source.")
    run_source = client.create_model_version(
        RUN_SOURCE_MODEL, f"runs:/{run_id}/model_dir", run_id=run_id
    )
    return str(nested.version), str(run_source.version), run_id, nested_files, large


def _write_nested_files(
    root: Path, large_file_size: int
) -> tuple[dict[str, int], tuple[str, int, str] | None]:
    """Files in nested folders plus, if asked, one large random file; sizes and the big one."""
    contents = {
        "README.md": b"A model whose files sit in nested folders.\n",
        "config/params.json": b'{"layers": 2, "units": [4, 3]}\n',
        "weights/layer1/a.bin": os.urandom(1024),
        "weights/layer1/b.bin": os.urandom(2048),
        "weights/layer2/deep/c.bin": os.urandom(333),
        "weights/empty.bin": b"",
    }
    sizes = {}
    for rel, data in contents.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        sizes[rel] = len(data)
    if large_file_size <= 0:
        return sizes, None
    digest = hashlib.sha256()
    remaining = large_file_size
    with open(root / LARGE_FILE_PATH, "wb") as out:
        while remaining:
            block = os.urandom(min(remaining, 1 << 20))
            digest.update(block)
            out.write(block)
            remaining -= len(block)
    sizes[LARGE_FILE_PATH] = large_file_size
    return sizes, (LARGE_FILE_PATH, large_file_size, digest.hexdigest())
