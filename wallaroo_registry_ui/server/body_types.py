"""Field types shared by the request bodies, so every route rejects bad input the same way."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

MAX_ID = 2**63 - 1


def _integer_id(value: Any) -> Any:
    """Integers, or strings of digits (the seed sends ``workspace-id`` as a string)."""
    if isinstance(value, bool):
        raise ValueError("must be an integer id, not a boolean")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValueError("must be an integer id")
    if not 0 <= value <= MAX_ID:
        raise ValueError(f"must be an integer id between 0 and {MAX_ID}")
    return value


def _uuid_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise ValueError("must be a UUID string") from exc


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _non_empty_text(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return _text(value.strip())


def _version_text(value: Any) -> Any:
    """Registry versions are strings; the seed also shows them as integers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _non_empty_text(value)


IntId = Annotated[int, BeforeValidator(_integer_id)]
UuidText = Annotated[str, BeforeValidator(_uuid_text)]
Text = Annotated[str, BeforeValidator(_text)]
NonEmptyText = Annotated[str, BeforeValidator(_non_empty_text)]
VersionText = Annotated[str, BeforeValidator(_version_text)]


class Body(BaseModel):
    """Base of all request bodies: unknown keys are ignored, as the Wallaroo API does."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
