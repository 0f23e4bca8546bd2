"""MLflow model signatures as the pyarrow schemas Wallaroo takes, and schemas as people read them.

MLflow describes inputs and outputs in its own signature JSON (column specs or tensor specs);
Wallaroo wants a pyarrow schema, which travels as base64 (``contract.schema_to_base64``).
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

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
