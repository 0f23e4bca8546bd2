"""Errors a route raises on purpose, rendered as the contract's ``{"msg", "code"}`` body."""

from __future__ import annotations

SHOWN_VALUE_LIMIT = 100


def shown(value: str) -> str:
    """A caller's value as an error message repeats it: shortened, so a 1 MB name is not
    sent back whole."""
    if len(value) <= SHOWN_VALUE_LIMIT:
        return value
    return value[: SHOWN_VALUE_LIMIT - 1] + "…"


class ApiError(Exception):
    def __init__(self, status: int, msg: str) -> None:
        self.status = status
        self.msg = msg
        super().__init__(msg)


def bad_field(field: str, problem: str) -> ApiError:
    """400 naming the field, so the caller knows what to fix."""
    return ApiError(400, f"{field}: {problem}")


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def forbidden(msg: str) -> ApiError:
    return ApiError(403, msg)
