"""Fill an empty MLflow server with the registry every test (and the demo) looks at.

``seed_registry(url)`` logs a real scikit-learn model, registers versions of every source
kind MLflow 3 produces, adds stages, aliases, tags, odd names, a 40 MB file and enough
models to need several pages, and returns what it made.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

WINE_MODEL = "wine_quality"
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
    large_file: LargeFile


def seed_registry(url: str) -> SeedInfo:
    """Seed the MLflow server at ``url`` (empty) and describe what is there."""
    import mlflow
    import sklearn
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    mlflow.set_tracking_uri(url)
    client = MlflowClient(tracking_uri=url)
    mlflow.set_experiment("registry-seed")

    features, target = load_wine(return_X_y=True, as_frame=True)
    requirements = [f"scikit-learn=={sklearn.__version__}"]
    client.create_registered_model(
        WINE_MODEL,
        tags={"team": "data-science", "task": "classification"},
        description="Classifies wines into three cultivars from 13 chemical measurements.",
    )
    wine_infos = []
    for strength in (0.1, 1.0):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=1000))
        model.fit(features, target)
        with mlflow.start_run(run_name=f"wine-C{strength}") as run:
            mlflow.log_param("C", strength)
            mlflow.log_metric("train_accuracy", float(model.score(features, target)))
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(features, model.predict(features)),
                pip_requirements=requirements,
            )
        wine_infos.append(info)
        client.create_model_version(
            WINE_MODEL,
            info.model_uri,
            run_id=run.info.run_id,
            model_id=info.model_id,
            description=f"LogisticRegression, C={strength}",
            tags={"validation_status": "approved" if strength == 1.0 else "pending"},
        )
    client.transition_model_version_stage(WINE_MODEL, "1", "Staging")
    client.transition_model_version_stage(WINE_MODEL, "2", "Production")
    aliases = {"champion": "2", "challenger": "1"}
    for alias, version in aliases.items():
        client.set_registered_model_alias(WINE_MODEL, alias, version)

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(scratch) / "model_dir"
        nested_files, large = _write_nested_files(model_dir)
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

    odd_models = (HTML_MODEL, QUOTE_MODEL, QUOTE_DECOY_MODEL, UNICODE_MODEL)
    for name in odd_models:
        description = HTML_DESCRIPTION if name == HTML_MODEL else f"odd name: {name}"
        client.create_registered_model(name, description=description)
        client.create_model_version(
            name,
            wine_infos[0].model_uri,
            run_id=wine_infos[0].run_id,
            model_id=wine_infos[0].model_id,
        )
    client.create_registered_model(EMPTY_MODEL, description="No versions at all.")

    bulk = tuple(f"{BULK_PREFIX}{index:04d}" for index in range(BULK_COUNT))
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
        wine_versions=("1", "2"),
        wine_stages={"1": "Staging", "2": "Production"},
        wine_aliases=aliases,
        wine_model_id=wine_infos[1].model_id,
        nested_model=NESTED_MODEL,
        nested_version=str(nested.version),
        nested_files=nested_files,
        run_source_model=RUN_SOURCE_MODEL,
        run_source_version=str(run_source.version),
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
        large_file=LargeFile(NESTED_MODEL, str(nested.version), *large),
    )


def _write_nested_files(root: Path) -> tuple[dict[str, int], tuple[str, int, str]]:
    """Files in nested folders plus one large random file; returns sizes and the big one."""
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
    large_rel = "weights/big.bin"
    digest = hashlib.sha256()
    with open(root / large_rel, "wb") as out:
        for _ in range(LARGE_FILE_SIZE // (1 << 20)):
            block = os.urandom(1 << 20)
            digest.update(block)
            out.write(block)
    sizes[large_rel] = LARGE_FILE_SIZE
    return sizes, (large_rel, LARGE_FILE_SIZE, digest.hexdigest())
