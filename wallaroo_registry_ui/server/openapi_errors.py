"""The error answers each call's OpenAPI operation declares: the statuses it really answers.

FastAPI documents a 422 for every call with a body, which this service never answers (bad
input is a 400, see ``errors.py``), and none of the others. The schema is rewritten once:
422 goes; every call declares 413 and 503 (a service without room) and 507 (a full disk);
every POST (a call with a body and a caller, as the contract has them) declares 400, 401,
403, 404 and 409. A call that talks to a registry declares 502 and 504 itself
(``responses=REGISTRY_CALL_RESPONSES`` beside its ``RegistryCallDep``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA = "ErrorBody"
EVERY_CALL = {
    "413": "the body is over 1 MiB",
    "503": "the service has no room for the call now; see Retry-After",
    "507": "the service's disk is full, or the file is larger than it may store",
}
EVERY_POST = {
    "400": "bad input: the message names the field",
    "401": "no API token, or an unknown one",
    "403": "the caller may not do this in that workspace",
    "404": "no such id, or one the caller may not see",
    "409": "a conflict with what exists",
}


def error_response(description: str) -> dict[str, Any]:
    """An OpenAPI response whose body is the contract's ``{"msg", "code"}``."""
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}
        },
    }


REGISTRY_CALL_RESPONSES: dict[int | str, dict[str, Any]] = {
    502: error_response("the registry failed"),
    504: error_response("the registry did not answer in time"),
}


def install_error_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare the statuses above instead of FastAPI's 422."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                routes=app.routes,
                openapi_version=app.openapi_version,
            )
            _declare_errors(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]


def _declare_errors(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_SCHEMA] = {
        "type": "object",
        "properties": {"msg": {"type": "string"}, "code": {"type": "integer"}},
        "required": ["msg", "code"],
    }
    for schema in ("HTTPValidationError", "ValidationError"):
        components.pop(schema, None)
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            statuses = {**EVERY_CALL, **(EVERY_POST if method == "post" else {})}
            for status, description in statuses.items():
                responses.setdefault(status, error_response(description))
