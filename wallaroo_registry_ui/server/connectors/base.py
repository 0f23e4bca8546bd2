"""What the service asks of a connector, what the kind table holds, and what a connector raises.

A connector answers in the shapes of ``wallaroo_registry_ui.contract`` (``RegisteredModelJson``,
``ModelVersionJson``, ``ArtifactJson``, ...), never in its registry's own wire format, so a
route only checks the request and forwards the answer. ``ConnectorClass`` is what the kind
table (``connectors/__init__.py``) needs of a connector class to guess, check and open
registries of its kind.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypedDict, TypeVar

import requests

from wallaroo_registry_ui.contract import (
    MAX_PAGE_SIZE,
    MODEL_VERSION_KEYS,
    ArtifactJson,
    ExtendedModelVersionJson,
    ModelVersionJson,
    RegisteredModelJson,
    TagJson,
)

Item = TypeVar("Item")

RETRYABLE_STATUSES = frozenset({408, 429})
"""The 4xx answers that say "later", not "never"; every 5xx says it too."""


def check_max_results(max_results: int) -> None:
    """Refuse a page size outside the contract's bounds before asking the registry."""
    if not 1 <= max_results <= MAX_PAGE_SIZE:
        raise ValueError(f"max_results must be between 1 and {MAX_PAGE_SIZE}, not {max_results}")


def model_version(raw: Mapping) -> ModelVersionJson:
    """The contract's MV from a dict keyed like it: exactly its keys, "" for any left out."""
    values = {key: "" if raw.get(key) is None else raw[key] for key in MODEL_VERSION_KEYS}
    return ModelVersionJson(**{**values, "version": str(values["version"])})


def extended_version(
    item: ModelVersionJson, aliases: list[str], tags: list[TagJson]
) -> ExtendedModelVersionJson:
    """An MV with what ``"extended": true`` adds."""
    return ExtendedModelVersionJson(**item, aliases=aliases, tags=tags)


@dataclass(frozen=True)
class Page(Generic[Item]):
    """One page of a registry listing; ``next_page_token`` is the registry's own, opaque."""

    items: list[Item]
    next_page_token: str | None


class Provenance(TypedDict):
    """What an upload ``path`` tells of the file it names, known before any request.

    ``model_name``, ``model_version`` and ``path`` (the file's path in its registry or under
    its version's root) may each be None; ``file_name`` is the file's base name.
    """

    model_name: str | None
    model_version: str | None
    path: str | None
    file_name: str


def provenance_of(model_name: str | None, model_version: str | None, path: str) -> Provenance:
    """The provenance of the file at ``path``: ``file_name`` is its base name."""
    return Provenance(
        model_name=model_name,
        model_version=model_version,
        path=path,
        file_name=posixpath.basename(path),
    )


@dataclass
class ArtifactDownload:
    """An open stream of one artifact's bytes, from ``offset`` on.

    ``size`` is the whole file's size as the registry announced it (None when it did not
    say); the consumer checks the bytes it got against it. ``offset`` is the position in the
    file of the first byte ``chunks`` yields: the offset asked for when the registry honoured
    it, 0 when it sent the whole file again (whatever was kept of it must then be dropped).
    ``provenance`` holds what the path tells of its origin: ``model_name``,
    ``model_version`` and ``path`` (each may be None).
    """

    file_name: str
    chunks: Iterator[bytes]
    size: int | None
    provenance: dict = field(default_factory=dict)
    closer: object = None
    offset: int = 0

    def close(self) -> None:
        close = getattr(self.closer, "close", None)
        if close is not None:
            close()


class ConnectorError(Exception):
    """Base of what a connector raises; messages never contain the registry's token."""


class UpstreamError(ConnectorError):
    """The registry answered with an error (mapped to 502) or could not be reached."""

    def __init__(self, registry: str, detail: str, status: int | None = None) -> None:
        self.registry = registry
        self.detail = detail
        self.status = status
        where = f"registry '{registry}'"
        said = f" answered HTTP {status}" if status is not None else ""
        super().__init__(f"{where}{said}: {detail}")


class RegistryNotFound(UpstreamError):
    """The registry says the model, version or file does not exist (mapped to 404)."""


class UpstreamTimeout(UpstreamError):
    """The registry did not answer in time (mapped to 504)."""


class UpstreamBroken(UpstreamError):
    """The connection to the registry could not be made or broke off, a file half sent:
    nothing the registry said, so asking again may work (mapped to 502)."""


class InvalidArtifactPath(ConnectorError):
    """An upload ``path`` that is not on the registry's origin nor one of its URIs (400)."""

    def __init__(self, message: str) -> None:
        self.field = "path"
        super().__init__(message)


def is_retryable(exc: ConnectorError) -> bool:
    """True when asking the registry again may succeed: a cut or refused connection, a
    timeout, a 408 or 429, any 5xx. A 404, any other answer and a refused path are final."""
    if isinstance(exc, RegistryNotFound) or not isinstance(exc, UpstreamError):
        return False
    if isinstance(exc, (UpstreamTimeout, UpstreamBroken)):
        return True
    status = exc.status
    return status is not None and (status in RETRYABLE_STATUSES or 500 <= status <= 599)


class RegistryConnector(Protocol):
    """Talks to one registry. Built per request from the stored url and decrypted token."""

    kind: str

    def list_models(
        self,
        *,
        max_results: int,
        page_token: str | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
    ) -> Page[RegisteredModelJson]:
        """Registered models, one page."""
        ...

    def list_versions(
        self,
        model_name: str,
        *,
        max_results: int,
        page_token: str | None = None,
        extended: bool = False,
    ) -> Page[ExtendedModelVersionJson]:
        """Versions of one model, exactly the MV keys (``aliases``/``tags`` only if extended)."""
        ...

    def list_artifacts(self, model_name: str, version: str) -> list[ArtifactJson]:
        """Every file and directory of a version, recursively."""
        ...

    def check_path(self, path: str) -> Provenance:
        """What ``path`` (a ``full_path`` or registry URI) names, without any request.

        Raises InvalidArtifactPath, as ``open_download`` does, when ``path`` is not this
        registry's.
        """
        ...

    def open_version_file(
        self, model_name: str, version: str, relative_path: str, *, offset: int = 0
    ) -> ArtifactDownload:
        """Start streaming one file of a version, named by its ``relative_path``, from
        ``offset`` on where the registry can start there (see ``ArtifactDownload.offset``)."""
        ...

    def open_download(self, path: str, *, offset: int = 0) -> ArtifactDownload:
        """Start streaming the file at ``path`` (a ``full_path`` or registry URI), from
        ``offset`` on where the registry can start there (see ``ArtifactDownload.offset``).

        Raises InvalidArtifactPath before any request when ``path`` is not this registry's.
        The token is sent to the registry's origin only, redirects included. Reading
        ``chunks`` raises UpstreamError (``is_retryable`` tells whether to try again).
        """
        ...

    def close(self) -> None:
        """Release what the connector holds (a pooled session is not its to close)."""
        ...


class ConnectorClass(Protocol):
    """A connector class as the kind table holds it.

    ``host_suffixes`` are the hosts that are registries of its kind when a URL is given
    without a kind (none for the default kind); ``url_problem`` is its kind's own rule on a
    URL that already passed the checks every kind makes (``registry_urls.url_problem``).
    """

    kind: str
    host_suffixes: tuple[str, ...]

    def url_problem(self, url: str) -> str | None: ...

    def __call__(
        self, name: str, url: str, token: str = "", *, session: requests.Session | None = None
    ) -> RegistryConnector: ...
