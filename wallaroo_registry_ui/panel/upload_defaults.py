"""What to pre-fill the upload form with, from what a registry knows about a model version.

An MLflow model directory describes itself: ``MLmodel`` names its flavors (hence the Wallaroo
framework and the file holding the model) and its signature (hence the input and output
schemas), and ``requirements.txt`` (or ``conda.yaml``) lists what it needs. Where those files
cannot be read, the file names alone still give a usable guess.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa
import yaml

from wallaroo_registry_ui.contract import FRAMEWORKS, suggest_model_name
from wallaroo_registry_ui.panel.signatures import signature_to_schema

MLMODEL = "MLmodel"
REQUIREMENTS = "requirements.txt"
CONDA = "conda.yaml"
METADATA_FILES = frozenset(
    {
        MLMODEL,
        REQUIREMENTS,
        CONDA,
        "python_env.yaml",
        "input_example.json",
        "serving_input_example.json",
        "registered_model_meta",
    }
)

# MLflow flavor -> (Wallaroo framework, the flavor's key naming its model file)
FLAVORS: dict[str, tuple[str, str | None]] = {
    "onnx": ("onnx", "data"),
    "sklearn": ("sklearn", "pickled_model"),
    "xgboost": ("xgboost", "data"),
    "pytorch": ("pytorch", "model_data"),
    "keras": ("keras", "data"),
    "tensorflow": ("tensorflow", "saved_model_dir"),
    "python_function": ("custom", "model_path"),
}

# file suffix -> Wallaroo framework, in order of how likely the file is the model itself
SUFFIXES: dict[str, str] = {
    ".onnx": "onnx",
    ".pkl": "sklearn",
    ".skops": "sklearn",
    ".joblib": "sklearn",
    ".pickle": "sklearn",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".keras": "keras",
    ".h5": "keras",
    ".xgb": "xgboost",
    ".ubj": "xgboost",
    ".bst": "xgboost",
    ".zip": "custom",
}

TextReader = Callable[[str], str | None]


@dataclass(frozen=True)
class UploadDefaults:
    """The upload form's starting values; ``notes`` say where each guess came from."""

    name: str
    framework: str
    requirements: tuple[str, ...] = ()
    input_schema: pa.Schema | None = None
    output_schema: pa.Schema | None = None
    path: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def read_mlmodel(text: str | None) -> dict[str, Any]:
    """The MLmodel YAML as a dict ({} when absent or unreadable)."""
    if not text:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def framework_from_flavors(flavors: dict[str, Any]) -> str | None:
    """The Wallaroo framework of the most specific flavor an MLmodel lists."""
    transformers = flavors.get("transformers")
    if isinstance(transformers, dict):
        candidate = f"hugging-face-{transformers.get('task', '')}"
        return candidate if candidate in FRAMEWORKS else "custom"
    for flavor, (framework, _) in FLAVORS.items():
        if flavor in flavors:
            return framework
    return None


def model_file_from_flavors(flavors: dict[str, Any], files: Iterable[str]) -> str | None:
    """The file a flavor names as its model, if it is one of ``files`` (not a directory)."""
    present = set(files)
    for flavor, (_, key) in FLAVORS.items():
        spec = flavors.get(flavor)
        if key and isinstance(spec, dict) and str(spec.get(key) or "") in present:
            return str(spec[key])
    return None


def framework_from_file_name(path: str) -> str | None:
    """A framework guessed from a file's suffix alone."""
    return SUFFIXES.get(PurePosixPath(path).suffix.lower())


def model_file_from_names(files: pd.DataFrame) -> str | None:
    """The likeliest model file: a known model suffix first, then the biggest other file."""
    if files.empty:
        return None
    names = files["relative_path"].astype(str)
    candidates = files[~names.map(lambda p: PurePosixPath(p).name in METADATA_FILES)]
    if candidates.empty:
        return None
    ranks = list(SUFFIXES)
    rank = candidates["relative_path"].map(
        lambda p: ranks.index(s) if (s := PurePosixPath(p).suffix.lower()) in ranks else len(ranks)
    )
    sizes = pd.to_numeric(candidates["file_size"], errors="coerce").fillna(0)
    ordered = candidates.assign(_rank=rank, _size=-sizes).sort_values(
        ["_rank", "_size"], kind="mergesort"
    )
    return str(ordered["relative_path"].iloc[0])


def requirements_from_text(text: str | None) -> list[str]:
    """Package specifiers of a requirements.txt, without comments and pip options."""
    found = []
    for line in (text or "").splitlines():
        spec = line.split(" #", 1)[0].strip()
        if spec and not spec.startswith(("#", "-")):
            found.append(spec)
    return found


def requirements_from_conda(text: str | None) -> list[str]:
    """The pip section of a conda.yaml environment."""
    try:
        env = yaml.safe_load(text or "") or {}
    except yaml.YAMLError:
        return []
    dependencies = env.get("dependencies") if isinstance(env, dict) else None
    for item in dependencies or []:
        if isinstance(item, dict) and isinstance(item.get("pip"), list):
            return [str(p) for p in item["pip"] if not str(p).startswith("-")]
    return []


def signature_schemas(mlmodel: dict[str, Any]) -> tuple[pa.Schema | None, pa.Schema | None]:
    """Input and output schemas from an MLmodel's signature (None where it has none)."""
    signature = mlmodel.get("signature")
    if not isinstance(signature, dict):
        return None, None
    schemas = []
    for key in ("inputs", "outputs"):
        spec = signature.get(key)
        try:
            schemas.append(signature_to_schema(spec) if spec else None)
        except (ValueError, TypeError, AttributeError):
            schemas.append(None)
    return schemas[0], schemas[1]


def guess_upload_defaults(
    model_name: str, artifacts: pd.DataFrame, read_text: TextReader
) -> UploadDefaults:
    """Defaults for uploading a version whose files are ``artifacts`` (an artifacts frame);
    ``read_text(relative_path)`` returns a small file's text, or None if it cannot be read."""
    files = artifacts[~artifacts["is_dir"].astype(bool)] if not artifacts.empty else artifacts
    paths = set(files["relative_path"].astype(str)) if not files.empty else set()
    notes: list[str] = []

    mlmodel = read_mlmodel(read_text(MLMODEL)) if MLMODEL in paths else {}
    flavors = mlmodel.get("flavors") if isinstance(mlmodel.get("flavors"), dict) else {}
    path = model_file_from_flavors(flavors, paths) or model_file_from_names(files)
    framework = framework_from_flavors(flavors)
    if framework:
        notes.append(f"framework from the MLmodel flavors ({', '.join(flavors)})")
    else:
        framework = framework_from_file_name(path or "") or "custom"
        notes.append(f"framework guessed from the file name {path or '(none)'}")

    requirements: list[str] = []
    if REQUIREMENTS in paths:
        requirements = requirements_from_text(read_text(REQUIREMENTS))
        if requirements:
            notes.append("requirements from requirements.txt")
    if not requirements and CONDA in paths:
        requirements = requirements_from_conda(read_text(CONDA))
        if requirements:
            notes.append("requirements from conda.yaml")

    input_schema, output_schema = signature_schemas(mlmodel)
    if input_schema is not None or output_schema is not None:
        notes.append("schemas from the MLmodel signature")
    return UploadDefaults(
        name=suggest_model_name(model_name),
        framework=framework,
        requirements=tuple(requirements),
        input_schema=input_schema,
        output_schema=output_schema,
        path=path,
        notes=tuple(notes),
    )
