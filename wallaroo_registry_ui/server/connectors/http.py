"""HTTP to one model registry: its auth goes to its origin only, GETs retry within a budget,
and every failure becomes a connector error that names the registry and never holds a secret
nor repeats what the registry sent (the service log gets the details).
"""

from __future__ import annotations

import html
import json
import logging
import random
import re
import socket
import time
from collections.abc import Collection, Iterator, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions

from wallaroo_registry_ui.contract import TOKEN_MASK
from wallaroo_registry_ui.server.connectors.base import (
    RegistryNotFound,
    UpstreamBroken,
    UpstreamError,
    UpstreamTimeout,
)
from wallaroo_registry_ui.server.connectors.deadlines import bounded, time_left
from wallaroo_registry_ui.server.connectors.egress import EgressRefused
from wallaroo_registry_ui.server.connectors.registry_auth import NoAuth, RegistryAuth, token_auth

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
# A server that refuses connections is down or misnamed; a person waits for the verdict.
MAX_REFUSED_CONNECTIONS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_BACKOFF_STATUSES = frozenset({502, 504})
_BACKOFF_BASE_SECONDS = 0.5
_BACKOFF_CAP_SECONDS = 10.0
_ERROR_BODY_LIMIT = 64 * 1024
_DETAIL_LIMIT = 300
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")

Params = Mapping[str, Any] | None
Headers = Mapping[str, str] | None


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url`` with the default port spelled out, lower-cased.

    Two URLs share an origin exactly when these strings are equal; a URL that cannot be
    parsed has the origin ``""``, which matches nothing.
    """
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return ""
    if scheme not in _DEFAULT_PORTS or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def scheme_of(uri: str) -> str:
    """The scheme of a location a registry reported, for messages; "" when it has none or the
    location cannot be parsed (a registry's answer must not turn into a crash)."""
    try:
        return urlsplit(uri).scheme
    except ValueError:
        return ""


_STORAGE_SCHEMES = frozenset((
    "s3", "gs", "wasbs", "wasb", "abfss", "abfs", "hdfs", "viewfs", "file", "dbfs", "ftp",
    "sftp", "http", "https", "runs", "models", "mlflow-artifacts", "uc-volume",
))  # fmt: skip


def storage_kind(uri: str) -> str:
    """The kind of a storage location a registry reported, for messages: its scheme when it
    is a storage scheme we know ('s3', 'wasbs', ...), 'local' without one, else 'another'
    (a message repeats nothing else of what the registry sent)."""
    scheme = scheme_of(uri).lower()
    if not scheme:
        return "local"
    return scheme if scheme in _STORAGE_SCHEMES else "another"


class RegistryHttp:
    """A ``requests.Session`` bound to one registry, shared by the connectors of every kind.

    ``auth`` proves who is asking (a ``RegistryAuth``; a string is the registry's token, sent
    as a bearer token) and goes to the registry's own origin only, redirects included.
    ``timeout`` bounds each wait for data (not a whole download), ``connect_timeout`` each
    connection attempt, and ``max_retry_seconds`` the time spent retrying one GET;
    ``total_retry_seconds`` (None: no limit) bounds the waiting summed over every GET of
    this session, so a request made of many GETs stays bounded too. A 401 from the
    registry's own origin says "the registry rejected the token"; ``rejected_token_hint``
    names the cure, and makes a 403 with a body that is not JSON say so too (Databricks
    answers a wrong or expired token with an HTML page).
    """

    def __init__(
        self,
        registry_name: str,
        base_url: str,
        auth: RegistryAuth | str = "",
        *,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        max_retry_seconds: float = 60.0,
        total_retry_seconds: float | None = None,
        rejected_token_hint: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.registry_name = registry_name
        self.base_url = base_url.rstrip("/")
        self.origin = origin_of(self.base_url)
        if not self.origin:
            raise UpstreamError(registry_name, "its URL is not an http(s) URL")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_retry_seconds = max_retry_seconds
        self.total_retry_seconds = total_retry_seconds
        self.rejected_token_hint = rejected_token_hint
        self._waited = 0.0
        if isinstance(auth, str):
            auth = token_auth(registry_name, auth)
        self._auth: RegistryAuth = auth
        self._owns_session = session is None
        self._session = session or requests.Session()

    def url_for(self, url_or_path: str) -> str:
        """An absolute URL: paths are joined to the base URL (which may carry a prefix)."""
        if scheme_of(url_or_path):
            return url_or_path
        return f"{self.base_url}/{url_or_path.lstrip('/')}"

    def is_own(self, url: str) -> bool:
        """True when ``url`` is on the registry's origin (the only place its auth may go)."""
        return origin_of(url) == self.origin

    def get_json(self, path: str, params: Params = None) -> dict:
        """GET a JSON object; list values in ``params`` become repeated keys."""
        response = self._get(self.url_for(path), params, stream=False)
        try:
            body = response.json()
        except ValueError:
            raise self._error(response, expected="JSON") from None
        finally:
            response.close()
        if not isinstance(body, dict):
            raise UpstreamError(
                self.registry_name, "answered JSON that is not an object", response.status_code
            )
        return body

    def stream(
        self,
        url_or_path: str,
        params: Params = None,
        *,
        headers: Headers = None,
        allow_statuses: Collection[int] = (),
    ) -> requests.Response:
        """Open a GET whose body the caller reads with ``iter_chunks`` and then closes.

        ``headers`` (a ``Range``, say) go with the request wherever it is redirected, so they
        must hold no secret; the auth alone stays on the registry's origin. An error status
        in ``allow_statuses`` (a 416, say) is returned as it is instead of raised.
        """
        if any(key.lower() == "authorization" for key in headers or {}):
            raise ValueError("the registry's auth is RegistryHttp's own, not a header to pass")
        return self._get(
            self.url_for(url_or_path),
            params,
            stream=True,
            headers=headers,
            allow_statuses=allow_statuses,
        )

    def iter_chunks(
        self, response: requests.Response, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """The body of a streamed response, in chunks; read stalls and breaks become errors."""
        try:
            for chunk in response.iter_content(chunk_size):
                if chunk:
                    yield chunk
        except requests.exceptions.ConnectionError as exc:
            if _is_timeout(exc):
                raise UpstreamTimeout(
                    self.registry_name,
                    f"{self.origin} sent nothing for {self.timeout:g} s in the middle of a file",
                ) from None
            raise UpstreamBroken(
                self.registry_name, f"the connection to {self.origin} broke in the middle of a file"
            ) from None
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError):
            raise UpstreamBroken(
                self.registry_name, f"{self.origin} sent an incomplete file"
            ) from None
        finally:
            response.close()

    def redact(self, text: str) -> str:
        """``text`` with the auth's secrets masked, for anything an upstream might echo back."""
        for secret in sorted(self._auth.secrets(), key=len, reverse=True):
            if secret:
                text = text.replace(secret, TOKEN_MASK)
        return text

    def close(self) -> None:
        """Close the session if it is this object's own (a pooled one outlives it)."""
        if self._owns_session:
            self._session.close()

    def _get(
        self,
        url: str,
        params: Params,
        *,
        stream: bool,
        headers: Headers = None,
        allow_statuses: Collection[int] = (),
    ) -> requests.Response:
        deadline = time.monotonic() + self.max_retry_seconds
        attempt = refused = 0
        while True:
            try:
                response = self._follow(url, params, stream=stream, headers=headers)
            except requests.exceptions.ConnectionError as exc:
                # ConnectTimeout is a ConnectionError: a connection not made, like the rest.
                connect_timeout = isinstance(exc, requests.exceptions.ConnectTimeout)
                if not connect_timeout and _is_timeout(exc):
                    raise UpstreamTimeout(
                        self.registry_name,
                        f"{self.origin} stopped answering for {self.timeout:g} s",
                    ) from None
                failure: UpstreamError = self._unreachable(url, exc)
                refused += 1
                if refused >= MAX_REFUSED_CONNECTIONS:
                    raise failure from None
                delay = _backoff(attempt)
            except requests.exceptions.Timeout:
                raise UpstreamTimeout(
                    self.registry_name, f"no answer from {self.origin} within {self.timeout:g} s"
                ) from None
            except requests.exceptions.RequestException:
                raise UpstreamBroken(
                    self.registry_name, f"the answer from {self.origin} broke off"
                ) from None
            else:
                status = response.status_code
                if status < 400 or status in allow_statuses:
                    return response
                if status in _RETRY_AFTER_STATUSES:
                    delay = _retry_after(response) + random.uniform(0, 0.1)
                elif status in _BACKOFF_STATUSES:
                    delay = _backoff(attempt)
                else:
                    raise self._error(response)
                failure = self._error(response)
            if time.monotonic() + delay > deadline or not self._may_wait(delay):
                raise failure
            log.info("%s; retrying in %.1f s", failure, delay)
            time.sleep(delay)
            self._waited += delay
            attempt += 1

    def _may_wait(self, delay: float) -> bool:
        """True while waiting ``delay`` more keeps this session within its total retry time
        and the call within its deadline (``deadlines.py``)."""
        total, left = self.total_retry_seconds, time_left()
        if left is not None and delay >= left:
            return False
        return total is None or self._waited + delay <= total

    def _follow(
        self, url: str, params: Params, *, stream: bool, headers: Headers
    ) -> requests.Response:
        """One GET, following redirects by hand so the auth never leaves the origin."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(url, params, stream=stream, headers=headers)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECT_STATUSES or not location:
                return response
            response.close()
            url = urljoin(response.url, location)
            params = None
            if not origin_of(url):
                raise UpstreamError(
                    self.registry_name,
                    "redirected to a location that is not an http(s) URL",
                    response.status_code,
                )
        raise UpstreamError(self.registry_name, f"redirected more than {MAX_REDIRECTS} times")

    def _send(
        self, url: str, params: Params, *, stream: bool, headers: Headers
    ) -> requests.Response:
        """One GET without following redirects; a URL the client cannot parse is the
        registry's error, not the server's (requests parses a redirect's Location even when
        it is not asked to follow it), and so is an address the egress rules refuse."""
        try:
            return self._session.get(
                url,
                params=params,
                headers=headers,
                auth=self._auth if self.is_own(url) else NoAuth(),
                timeout=(bounded(self.connect_timeout), bounded(self.timeout)),
                allow_redirects=False,
                stream=stream,
            )
        except EgressRefused as refused:
            log.warning(
                "registry %r: refused a connection to %s: %s",
                self.registry_name,
                self.redact(_shortened(url)),
                refused,
            )
            if self.is_own(url):
                detail = f"the service may not connect to it: {refused}"
            else:
                detail = "redirected to an address the service may not connect to"
            raise UpstreamError(self.registry_name, detail) from None
        except (requests.exceptions.InvalidURL, urllib3.exceptions.LocationValueError):
            if self.is_own(url):
                detail = f"{self.redact(_shortened(url))} is not a URL that can be requested"
            else:
                detail = "redirected to a location that is not a URL that can be requested"
            raise UpstreamError(self.registry_name, detail) from None
        except requests.exceptions.RequestException:
            raise
        except ValueError:
            raise UpstreamError(
                self.registry_name, f"{self.origin} redirected to a location that is not a URL"
            ) from None

    def _unreachable(self, url: str, exc: BaseException) -> UpstreamBroken:
        """One message for every way a connection fails (refused, reset, a name that does
        not resolve, a connect timeout, no route), so the service cannot be used to tell
        them apart; the log says which it was."""
        log.warning(
            "registry %r: could not connect to %s%s",
            self.registry_name,
            origin_of(url) or self.origin,
            _connect_reason(exc),
        )
        return UpstreamBroken(self.registry_name, f"nothing answers at {_host_port(self.origin)}")

    def _error(self, response: requests.Response, expected: str | None = None) -> UpstreamError:
        """The connector error for a response that is not what was asked for; closes it.

        It says the status and a reason in words, never what the registry sent (its body,
        page title or message could be anyone's data); the service log gets a description.
        """
        try:
            body = _read_capped(response, _ERROR_BODY_LIMIT)
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError):
            body = b""
        finally:
            response.close()
        status = response.status_code
        log.warning(
            "registry %r answered HTTP %s: %s",
            self.registry_name,
            status,
            self.redact(_describe(body, response.headers.get("Content-Type", ""))),
        )
        if self._rejects_token(response, body):
            detail = (
                "the registry rejected the token"
                if self._auth.secrets()
                else ("the registry asks for a token")
            )
            if self.rejected_token_hint:
                detail = f"{detail}; {self.rejected_token_hint}"
        elif expected:
            detail = f"an answer that is not {expected}"
        else:
            detail = status_reason(status, _error_code(body))
        error = RegistryNotFound if status == 404 else UpstreamError
        return error(self.registry_name, detail, status)

    def _rejects_token(self, response: requests.Response, body: bytes) -> bool:
        """A 401, or (where a hint says how to cure it) a 403 that is not a JSON error
        (PERMISSION_DENIED is one), from the registry's origin."""
        status = response.status_code
        if not self.is_own(response.url or ""):
            return False
        if status == 401:
            return True
        return bool(self.rejected_token_hint) and status == 403 and not _is_json(body)


_ERROR_CODE_WORDS = {
    "RESOURCE_DOES_NOT_EXIST": "it does not exist",
    "NOT_FOUND": "it does not exist",
    "ENDPOINT_NOT_FOUND": "it does not serve this call",
    "INVALID_PARAMETER_VALUE": "it refused a value of the request",
    "BAD_REQUEST": "it refused the request",
    "INVALID_STATE": "it cannot do that now",
    "PERMISSION_DENIED": "permission denied",
    "UNAUTHENTICATED": "the registry rejected the token",
    "FEATURE_DISABLED": "the feature is disabled there",
    "REQUEST_LIMIT_EXCEEDED": "too many requests",
    "TEMPORARILY_UNAVAILABLE": "it is temporarily unavailable",
    "INTERNAL_ERROR": "an internal error",
    "RESOURCE_ALREADY_EXISTS": "it exists already",
    "MAX_READ_SIZE_EXCEEDED": "it refused to read that much at once",
    "RESOURCE_EXHAUSTED": "too many requests",
    "IO_ERROR": "it could not read the file",
}
_STATUS_WORDS = {
    400: "it refused the request",
    401: "the request was not authenticated",
    403: "access denied",
    404: "not found",
    405: "it does not serve this call",
    408: "it timed out waiting for the request",
    409: "a conflict",
    429: "too many requests",
}


def status_reason(status: int, error_code: str | None = None) -> str:
    """A registry's error answer in words of ours: from its JSON ``error_code`` when it is
    one we know (MLflow's and Databricks' codes, named too: they are ours to repeat), else
    from the status."""
    if error_code in _ERROR_CODE_WORDS:
        return f"{_ERROR_CODE_WORDS[error_code]} ({error_code})"
    if status in _STATUS_WORDS:
        return _STATUS_WORDS[status]
    if 500 <= status <= 599:
        return "a server error"
    if 300 <= status <= 399:
        return "a redirect without a location to follow"
    return "an unexpected answer"


def query_params(**values: object) -> dict:
    """Query parameters without the unset (None) ones: a registry is sent only what was chosen."""
    return {key: value for key, value in values.items() if value is not None}


def announced_size(response: requests.Response) -> int | None:
    """The body's size as the response announces it; None when it does not, or when the body
    is encoded (Content-Length then counts the encoded bytes, not the file's)."""
    length = response.headers.get("Content-Length", "")
    if not length.isdigit() or response.headers.get("Content-Encoding"):
        return None
    return int(length)


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return False
    return True


def _error_code(body: bytes) -> str | None:
    """The ``error_code`` of a JSON error body (MLflow's and Databricks' form), else None."""
    try:
        payload = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return None
    code = payload.get("error_code") if isinstance(payload, dict) else None
    return code if isinstance(code, str) else None


def _host_port(origin: str) -> str:
    """``host:port`` of an origin, as a message names where nothing answers."""
    return origin.split("://", 1)[-1]


def _describe(body: bytes, content_type: str) -> str:
    """What an error body says, in one short line, for the service log only: the MLflow
    message, a page title, or text."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return "an empty body"
    if "html" in content_type.lower() or re.match(r"<(!doctype\s+html|html)\b", text, re.I):
        match = _TITLE.search(text)
        title = _one_line(html.unescape(_TAGS.sub("", match.group(1)))) if match else ""
        return f'an HTML page titled "{title}"' if title else "an HTML page without a title"
    try:
        payload = json.loads(text)
    except ValueError:
        return f'"{_one_line(text)}"'
    if isinstance(payload, dict):
        message = payload.get("message") or payload.get("detail") or payload.get("msg")
        if isinstance(message, str) and message:
            code = payload.get("error_code")
            quoted = f'"{_one_line(message)}"'
            return f"{code}: {quoted}" if isinstance(code, str) and code else quoted
    return f'a JSON body without an error message: "{_one_line(text)}"'


def _shortened(url: str) -> str:
    return url if len(url) <= _DETAIL_LIMIT else url[: _DETAIL_LIMIT - 1] + "…"


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _read_capped(response: requests.Response, limit: int) -> bytes:
    data = bytearray()
    for chunk in response.iter_content(8192):
        data += chunk
        if len(data) >= limit:
            break
    return bytes(data[:limit])


def _retry_after(response: requests.Response) -> float:
    """Seconds the registry asked us to wait (integer ``Retry-After``; 1 s when absent)."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else 1.0


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter on the upper half."""
    ceiling = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2**attempt)
    return random.uniform(ceiling / 2, ceiling)


def _causes(exc: BaseException) -> Iterator[object]:
    """Every exception wrapped inside a requests/urllib3 error (causes, reasons, args)."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, BaseException):
            todo += [item.__cause__, item.__context__, getattr(item, "reason", None)]
            todo += [arg for arg in item.args if isinstance(arg, BaseException)]


def _connect_reason(exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return " (connection refused)"
        if isinstance(cause, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
            return " (host name not resolved)"
        if isinstance(cause, ConnectionResetError):
            return " (connection reset)"
        if isinstance(cause, urllib3.exceptions.SSLError):
            return " (TLS handshake failed)"
    return ""


def _is_timeout(exc: BaseException) -> bool:
    """True for a read that timed out (urllib3's NewConnectionError is a TimeoutError too)."""
    return any(
        isinstance(cause, (urllib3.exceptions.ReadTimeoutError, TimeoutError))
        for cause in _causes(exc)
    )
