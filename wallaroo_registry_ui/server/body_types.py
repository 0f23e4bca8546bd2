"""Field types shared by the request bodies, so every route rejects bad input the same way."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from wallaroo_registry_ui.server.secrets import token_problem

MAX_ID = 2**63 - 1
MAX_ID_DIGITS = len(str(MAX_ID))


def _integer_id(value: Any) -> Any:
    """Integers, or strings of digits: Wallaroo's registry guide sends ``workspace-id`` as a
    string."""
    if isinstance(value, bool):
        raise ValueError("must be an integer id, not a boolean")
    if isinstance(value, str):
        digits = value.strip()
        if digits.isascii() and digits.isdigit():
            if len(digits) > MAX_ID_DIGITS:
                raise ValueError(f"must be an integer id between 0 and {MAX_ID}")
            value = int(digits)
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
    """Strings that a database and an HTTP request can both carry.

    PostgreSQL text cannot hold NUL, and an unpaired surrogate (JSON's ``"\\ud800"``) cannot
    be encoded as UTF-8 at all, so either would fail later, half-way through a request.
    """
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text (it has an unpaired surrogate)") from exc
    return value


def _non_empty_text(value: Any) -> Any:
    """Names, URLs, emails and paths: a control character in one is always a mistake."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    value = _text(value.strip())
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("must not contain control characters (tabs, line breaks, ...)")
    return value


def _version_text(value: Any) -> Any:
    """Registry versions are strings; Wallaroo's registry guide also shows them as integers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _non_empty_text(value)


def _text_list(value: Any) -> Any:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of strings")
    return [_text(v) for v in value]


def _header_token(value: Any) -> Any:
    """A registry token, sent as ``Authorization: Bearer <token>``; surrounding blanks of a
    pasted token are dropped, and what a header cannot carry is refused now, not at first use."""
    token = _text(value).strip()
    problem = token_problem(token)
    if problem:
        raise ValueError(problem)
    return token


IntId = Annotated[int, BeforeValidator(_integer_id)]
UuidText = Annotated[str, BeforeValidator(_uuid_text)]
Text = Annotated[str, BeforeValidator(_text)]
NonEmptyText = Annotated[str, BeforeValidator(_non_empty_text)]
VersionText = Annotated[str, BeforeValidator(_version_text)]
TextList = Annotated[list[str], BeforeValidator(_text_list)]
HeaderToken = Annotated[str, BeforeValidator(_header_token)]


class Body(BaseModel):
    """Base of all request bodies: unknown keys are ignored, as the Wallaroo API does."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
