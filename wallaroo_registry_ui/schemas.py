"""Model names and schemas as Wallaroo wants them, shared by the client, the panel and the service.

Wallaroo model names become Kubernetes object names, so they must be DNS labels; schemas
travel as base64 of a serialized pyarrow schema. MLflow describes inputs and outputs in its
own signature JSON, which maps onto pyarrow types here.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from typing import Any

import pyarrow as pa

DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME_LENGTH = 63

FRAMEWORKS = (
    "onnx",
    "tensorflow",
    "python",
    "keras",
    "sklearn",
    "pytorch",
    "xgboost",
    "hugging-face-automatic-speech-recognition",
    "hugging-face-feature-extraction",
    "hugging-face-image-classification",
    "hugging-face-image-segmentation",
    "hugging-face-image-to-text",
    "hugging-face-object-detection",
    "hugging-face-question-answering",
    "hugging-face-stable-diffusion-text-2-img",
    "hugging-face-summarization",
    "hugging-face-text-classification",
    "hugging-face-translation",
    "hugging-face-zero-shot-classification",
    "hugging-face-zero-shot-image-classification",
    "hugging-face-zero-shot-object-detection",
    "hugging-face-sentiment-analysis",
    "hugging-face-text-generation",
    "custom",
    "vllm",
    "sglang",
    "mlflow",
)

PYTHON_VERSIONS = ("3.8", "3.9")


def suggest_model_name(name: str) -> str:
    """The closest DNS-safe name: ``wine_quality`` -> ``wine-quality``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    dashed = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower())
    trimmed = dashed.strip("-")[:MAX_NAME_LENGTH].strip("-")
    return trimmed or "model"


def model_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid Wallaroo model name, with a fix; None when it is valid."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if len(name) > MAX_NAME_LENGTH:
        return (
            f"must be at most {MAX_NAME_LENGTH} characters (got {len(name)}); "
            f"try '{suggest_model_name(name)}'"
        )
    if not DNS_NAME.match(name):
        return (
            "must be DNS-compliant: lower-case letters, digits and '-', starting and ending "
            f"with a letter or digit; try '{suggest_model_name(name)}'"
        )
    return None


def schema_to_base64(schema: pa.Schema) -> str:
    """Serialize a pyarrow schema the way the Wallaroo SDK sends it."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def schema_from_base64(text: str) -> pa.Schema:
    """Decode a base64 pyarrow schema; ValueError with a readable reason when it is not one."""
    if not isinstance(text, str):
        raise ValueError("must be a base64 string of a serialized pyarrow schema")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("is not valid base64") from exc
    try:
        return pa.ipc.read_schema(pa.py_buffer(raw))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise ValueError("is base64 but does not decode as a pyarrow schema") from exc


_MLFLOW_TYPES: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "integer": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "string": pa.string(),
    "binary": pa.binary(),
    "datetime": pa.timestamp("ms"),
}

_NUMPY_TYPES: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint8": pa.uint8(),
    "uint16": pa.uint16(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "float16": pa.float16(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "str": pa.string(),
    "object": pa.string(),
}


def _arrow_type(spec: dict[str, Any]) -> pa.DataType:
    kind = spec.get("type")
    if kind == "tensor":
        dtype = str(spec.get("tensor-spec", {}).get("dtype", "float64"))
        inner = _NUMPY_TYPES.get(dtype.lstrip("<>=|"), pa.float64())
        return pa.list_(inner)
    if kind == "array":
        return pa.list_(_arrow_type(spec.get("items", {})))
    if kind == "object":
        props = spec.get("properties", {})
        return pa.struct([pa.field(k, _arrow_type(v)) for k, v in props.items()])
    return _MLFLOW_TYPES.get(str(kind), pa.string())


def signature_to_schema(columns: str | list[dict[str, Any]]) -> pa.Schema:
    """An MLflow signature's ``inputs`` or ``outputs`` (JSON text or parsed) as a pyarrow schema.

    Column-based signatures map one field per column; an unnamed tensor becomes a single
    ``tensor`` list column, which is how Wallaroo takes array inputs.
    """
    specs = json.loads(columns) if isinstance(columns, str) else columns
    fields = []
    for index, spec in enumerate(specs or []):
        name = spec.get("name") or ("tensor" if spec.get("type") == "tensor" else f"output_{index}")
        fields.append(pa.field(name, _arrow_type(spec), nullable=not spec.get("required", True)))
    return pa.schema(fields)


def describe_schema(schema: pa.Schema) -> list[tuple[str, str]]:
    """``[(column, type)]`` for showing a schema to a person."""
    return [(f.name, str(f.type)) for f in schema]
