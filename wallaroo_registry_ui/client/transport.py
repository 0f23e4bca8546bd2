"""How the client talks HTTP to the registry API: auth header, timeouts, retries, errors.

Reads are retried on transient failures within a bounded time; writes are sent once, because
a repeated create or upload is not harmless. Nothing here lets a token into an error.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests

from wallaroo_registry_ui._version import __version__
from wallaroo_registry_ui.client.errors import (
    ConnectionFailed,
    RegistryApiError,
    describe_body,
    error_from_response,
    redact,
)
from wallaroo_registry_ui.contract import public_url

RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_BASE_DELAY = 0.2
RETRY_MAX_DELAY = 8.0
MAX_REMEMBERED_TOKENS = 8

T = TypeVar("T")

_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def _user_agent() -> str:
    return f"wallaroo-registry-ui/{__version__} python-requests/{requests.__version__}"


def _normalized_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/v1/api"):
        path = path[: -len("/v1/api")]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _connection_reason(exc: requests.RequestException) -> str:
    """A one-line reason for a failure without an HTTP answer (urllib3's text is long)."""
    found = _ERRNO_REASON.search(str(exc))
    if found:
        return found.group(1).strip().lower()
    return type(exc).__name__


def _answered_by_the_api(status: int, response: requests.Response) -> bool:
    """A 502/504 carrying the API's own ``{"msg", "code"}`` body comes from the registry
    service itself, after it already retried the upstream registry: repeating it only makes
    the caller wait. A gateway's 502/504 (an HTML page, an empty body) is worth retrying."""
    if status not in (502, 504):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "msg" in body and body.get("code") == status


@dataclass(frozen=True)
class _Failure:
    """One attempt that did not succeed, and whether repeating it could help."""

    error: RegistryApiError
    retryable: bool
    retry_after: float | None = None


class ApiTransport:
    """Sends the registry API's calls for one base URL and one login."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_retry_seconds: float = 30.0,
        session: requests.Session | None = None,
        auth_header_source: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self._base_url = _normalized_base_url(base_url)
        self._token = token or None
        self._auth_header_source = auth_header_source
        self._seen_tokens: list[str] = []
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._max_retry_seconds = max_retry_seconds
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._user_agent = _user_agent()

    @property
    def base_url(self) -> str:
        """The API's root URL (without ``/v1/api`` and without any user:password part)."""
        return public_url(self._base_url)

    def close(self) -> None:
        """Close the HTTP session if this transport created it."""
        if self._owns_session:
            self._session.close()

    def redacted(self, text: str) -> str:
        """``text`` with this login's tokens masked, for errors built outside the transport."""
        return redact(text, self._secrets())

    def _secrets(self) -> list[str]:
        return [t for t in (self._token, *self._seen_tokens) if t]

    def _remember_token(self, token: str) -> None:
        if token and token not in self._seen_tokens:
            self._seen_tokens.append(token)
            del self._seen_tokens[:-MAX_REMEMBERED_TOKENS]

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        if self._auth_header_source is not None:
            for name, value in dict(self._auth_header_source()).items():
                if name.lower() == "authorization" and value:
                    scheme, _, credential = str(value).partition(" ")
                    self._remember_token(credential or scheme)
                    headers["Authorization"] = str(value)
        elif self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _attempt(self, method: str, call: str, url: str, body: Any) -> Any | _Failure:
        try:
            response = self._session.request(
                method,
                url,
                json=body,
                headers=self._headers(),
                timeout=(self._connect_timeout, self._timeout),
                allow_redirects=False,
            )
        except requests.ConnectTimeout:
            reason, retryable = f"could not connect within {self._connect_timeout:g} s", True
        except requests.ReadTimeout:
            reason = f"no answer within {self._timeout:g} s"
            retryable = False
        except requests.exceptions.SSLError:
            reason, retryable = "the TLS handshake failed", False
        except requests.ConnectionError as exc:
            reason, retryable = f"could not reach the server ({_connection_reason(exc)})", True
        except requests.exceptions.ChunkedEncodingError:
            reason, retryable = "the connection broke off during the answer", True
        except requests.RequestException as exc:
            reason, retryable = f"the request failed ({type(exc).__name__})", False
        else:
            return self._answer(call, response)
        message = redact(f"{reason} at {self.base_url}", self._secrets())
        return _Failure(ConnectionFailed(message, call=call), retryable)

    def _answer(self, call: str, response: requests.Response) -> Any | _Failure:
        status = response.status_code
        if 200 <= status < 300:
            if not response.content.strip():
                return None
            try:
                return response.json()
            except ValueError:
                got = describe_body(response.text, response.headers.get("Content-Type", ""))
                message = redact(f"expected JSON, got {got}", self._secrets())
                return _Failure(RegistryApiError(message, status=status, call=call), False)
        error = error_from_response(
            call,
            status,
            response.text,
            response.headers.get("Content-Type", ""),
            secrets=self._secrets(),
        )
        if 300 <= status < 400:
            where = public_url(response.headers.get("Location", "")) or "elsewhere"
            error = RegistryApiError(
                redact(f"redirected to {where}; check the base URL", self._secrets()),
                status=status,
                call=call,
            )
        return _Failure(
            error,
            retryable=status in RETRY_STATUSES and not _answered_by_the_api(status, response),
            retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
        )

    def _backoff(self, attempt: int) -> float:
        ceiling = min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * (2**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def request(self, method: str, call: str, body: Any, *, retry: bool) -> Any:
        """Send a call; when ``retry``, repeat transient failures with jittered exponential
        backoff (or the server's Retry-After), starting no attempt after max_retry_seconds."""
        url = f"{self._base_url}/v1/api/{call}"
        deadline = time.monotonic() + self._max_retry_seconds
        attempt = 0
        while True:
            outcome = self._attempt(method, call, url, body)
            if not isinstance(outcome, _Failure):
                return outcome
            if not (retry and outcome.retryable):
                raise outcome.error
            delay = outcome.retry_after
            if delay is None:
                delay = self._backoff(attempt)
            if time.monotonic() + delay > deadline:
                raise outcome.error
            time.sleep(delay)
            attempt += 1

    def read(self, call: str, body: dict[str, Any] | None = None) -> Any:
        """An idempotent call: retried on connection failures, 429 and 502/503/504."""
        return self.request("POST", call, body if body is not None else {}, retry=True)

    def write(self, call: str, body: dict[str, Any]) -> Any:
        """A call that changes something: sent exactly once."""
        return self.request("POST", call, body, retry=False)

    def parse(self, call: str, parse: Callable[[], T]) -> T:
        """Turn a response of the wrong shape into a RegistryApiError naming the call."""
        try:
            return parse()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            error = RegistryApiError(
                redact(f"unexpected response shape ({problem})", self._secrets())[:300],
                status=200,
                call=call,
            )
        raise error
