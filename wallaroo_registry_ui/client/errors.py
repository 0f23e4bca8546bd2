"""Typed errors of the registry API, so callers can catch by meaning instead of parsing text.

Every error carries the HTTP status (None when no answer came or the client refused to send),
the server's message and code, and the call that failed. Nothing in an error may carry an API
token: the client passes its secrets to ``error_from_response``/``redact`` and they are masked
before they reach any attribute.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wallaroo_registry_ui.client.records import UploadProgress

MAX_BODY_EXCERPT = 200
REDACTED = "***"

_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
_HTML_TITLE = re.compile(r"(?is)<title[^>]*>(.*?)</title>")
_HTML_TAG = re.compile(r"(?s)<[^>]+>")
_SCRIPT_OR_STYLE = re.compile(r"(?is)<(script|style)[^>]*>.*?</\1>")
_SPACES = re.compile(r"\s+")


class RegistryApiError(Exception):
    """A registry API call that did not succeed."""

    status: int | None
    message: str
    code: Any
    call: str
    field: str | None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: Any = None,
        call: str = "",
        field: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.code = code
        self.call = call
        self.field = field
        super().__init__(self._text())

    def _text(self) -> str:
        where = self.call or "registry API"
        if self.status is not None:
            return f"{where} -> HTTP {self.status}: {self.message}"
        return f"{where} -> not sent: {self.message}"

    def __str__(self) -> str:
        return self._text()

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.message,), self.__dict__.copy())


class BadRequest(RegistryApiError):
    """400: the request was malformed or a value was rejected (or refused before sending)."""


class Unauthorized(RegistryApiError):
    """401: no token, or one the server does not know."""


class Forbidden(RegistryApiError):
    """403: the caller is not a member of that workspace."""


class NotFound(RegistryApiError):
    """404: unknown id, or one the caller may not see."""


class Conflict(RegistryApiError):
    """409: the thing already exists (a workspace name already taken)."""


class UpstreamFailed(RegistryApiError):
    """502: the model registry behind the API failed."""


class UpstreamTimedOut(RegistryApiError):
    """504: the model registry behind the API did not answer in time."""


class ServerError(RegistryApiError):
    """Any other 5xx."""


class ConnectionFailed(RegistryApiError):
    """No HTTP answer at all: refused, unreachable, reset or timed out."""

    def _text(self) -> str:
        return f"{self.call or 'registry API'} -> no HTTP answer: {self.message}"


class UploadFailed(RegistryApiError):
    """An upload ended in ``error``: the registry failed for good, or someone cancelled it.

    ``message`` is the service's reason in its words; ``progress`` is the upload as it ended
    (bytes moved, attempts, times). ``status`` is None: the calls themselves succeeded.
    """

    progress: UploadProgress | None

    def __init__(
        self,
        message: str,
        *,
        progress: UploadProgress | None = None,
        call: str = "",
        **details: Any,
    ) -> None:
        self.progress = progress
        super().__init__(message, call=call, **details)

    @property
    def model_version_id(self) -> int | None:
        return None if self.progress is None else self.progress.model_version_id

    def _text(self) -> str:
        which = self.model_version_id
        subject = "upload" if which is None else f"upload of model version {which}"
        return f"{subject} failed: {self.message}"


_BY_STATUS: dict[int, type[RegistryApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: BadRequest,
    502: UpstreamFailed,
    504: UpstreamTimedOut,
}


def error_class_for(status: int) -> type[RegistryApiError]:
    """The exception type that names what an HTTP status means."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if 500 <= status <= 599:
        return ServerError
    return RegistryApiError


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every given secret and every ``Bearer <token>`` masked."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def describe_body(text: str, content_type: str = "") -> str:
    """A short, human description of a body that is not the API's JSON error."""
    kind = (content_type or "").split(";")[0].strip() or "no content type"
    stripped = text.strip()
    if not stripped:
        return f"an empty response ({kind})"
    if "html" in kind or stripped[:1] == "<":
        title = _HTML_TITLE.search(stripped)
        if title:
            excerpt = title.group(1)
        else:
            excerpt = _HTML_TAG.sub(" ", _SCRIPT_OR_STYLE.sub(" ", stripped))
        return f"an HTML page ({kind}): {_excerpt(excerpt)!r}"
    return f"a non-JSON response ({kind}): {_excerpt(stripped)!r}"


def _excerpt(text: str) -> str:
    flat = _SPACES.sub(" ", text).strip()
    if len(flat) > MAX_BODY_EXCERPT:
        return flat[: MAX_BODY_EXCERPT - 3] + "..."
    return flat


def _message_and_code(payload: Any) -> tuple[str, Any]:
    """Read the two error shapes Wallaroo uses, and FastAPI's ``detail`` as a fallback."""
    if isinstance(payload, dict):
        if "msg" in payload:
            return str(payload["msg"]), payload.get("code")
        if "error" in payload:
            message = str(payload["error"])
            source = payload.get("source")
            if source:
                message = f"{message} (source: {source})"
            return message, payload.get("code")
        if "detail" in payload:
            detail = payload["detail"]
            if isinstance(detail, list):
                detail = "; ".join(_fastapi_problem(item) for item in detail)
            return str(detail), payload.get("code")
        if "message" in payload:
            return str(payload["message"]), payload.get("code")
    return _excerpt(json.dumps(payload, default=str)), None


def _fastapi_problem(item: Any) -> str:
    if isinstance(item, dict):
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        return f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", item))
    return str(item)


def error_from_response(
    call: str,
    status: int,
    body: str,
    content_type: str = "",
    *,
    secrets: Iterable[str] = (),
) -> RegistryApiError:
    """The typed error for an HTTP answer that was not a success, secrets masked."""
    secrets = tuple(secrets)
    try:
        payload = json.loads(body) if body.strip() else None
    except ValueError:
        payload = None
        message, code = describe_body(body, content_type), None
    else:
        if payload is None:
            message, code = describe_body(body, content_type), None
        else:
            message, code = _message_and_code(payload)
    if isinstance(code, str):
        code = redact(code, secrets)
    return error_class_for(status)(redact(message, secrets), status=status, code=code, call=call)
