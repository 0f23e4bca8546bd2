"""What the service asks of a connector, what the kind table holds, and what a connector raises.

A connector answers in the shapes of ``wallaroo_registry_ui.contract`` (``RegisteredModelJson``,
``ModelVersionJson``, ``ArtifactJson``, ...), never in its registry's own wire format, so a
route only checks the request and forwards the answer. ``ConnectorClass`` is what the kind
table (``connectors/__init__.py``) needs of a connector class to guess, check and open
registries of its kind.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

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


@dataclass
class ArtifactDownload:
    """An open stream of one artifact's bytes.

    ``size`` is what the registry announced (None when it did not say); the consumer checks
    the bytes it got against it. ``provenance`` holds what the path tells of its origin:
    ``model_name``, ``model_version`` and ``path`` (each may be None).
    """

    file_name: str
    chunks: Iterator[bytes]
    size: int | None
    provenance: dict = field(default_factory=dict)
    closer: object = None

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


class InvalidArtifactPath(ConnectorError):
    """An upload ``path`` that is not on the registry's origin nor one of its URIs (400)."""

    def __init__(self, message: str) -> None:
        self.field = "path"
        super().__init__(message)


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

    def open_version_file(
        self, model_name: str, version: str, relative_path: str
    ) -> ArtifactDownload:
        """Start streaming one file of a version, named by its ``relative_path``."""
        ...

    def open_download(self, path: str) -> ArtifactDownload:
        """Start streaming the file at ``path`` (a ``full_path`` or registry URI).

        Raises InvalidArtifactPath before any request when ``path`` is not this registry's.
        The token is sent to the registry's origin only, redirects included.
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
