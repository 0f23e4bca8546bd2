"""Connectors: one per registry kind, each speaking that registry's own REST API.

``CONNECTORS`` is the kind table: a registry's ``kind`` names its connector class, which also
tells which hosts are of its kind and what its URLs must be. Guessing a kind, checking a URL
and opening a connector all read the table, so a new kind is its module and one row here.
"""

from __future__ import annotations

import requests

from wallaroo_registry_ui.server.connectors import registry_urls
from wallaroo_registry_ui.server.connectors.base import (
    ArtifactDownload,
    ConnectorClass,
    InvalidArtifactPath,
    Page,
    Provenance,
    RegistryConnector,
    RegistryNotFound,
    UpstreamBroken,
    UpstreamError,
    UpstreamTimeout,
    is_retryable,
)
from wallaroo_registry_ui.server.connectors.databricks import DatabricksConnector
from wallaroo_registry_ui.server.connectors.mlflow import MlflowConnector

CONNECTORS: dict[str, ConnectorClass] = {
    MlflowConnector.kind: MlflowConnector,
    DatabricksConnector.kind: DatabricksConnector,
}
DEFAULT_KIND = MlflowConnector.kind
"""The kind of a registry whose host is of no kind in particular."""


def guess_kind(url: str) -> str:
    """The kind whose host suffixes end the URL's host (say, a Databricks workspace), else
    the default kind."""
    host = registry_urls.host_of(url)
    for kind, connector in CONNECTORS.items():
        if connector.host_suffixes and host.endswith(connector.host_suffixes):
            return kind
    return DEFAULT_KIND


def url_problem(url: str, kind: str | None = None) -> str | None:
    """Why ``url`` cannot be the root URL of a registry of ``kind`` (guessed from the URL when
    not given); None when it can. An unknown kind gets only the checks every kind makes."""
    problem = registry_urls.url_problem(url)
    if problem:
        return problem
    connector = CONNECTORS.get(kind or guess_kind(url))
    return connector.url_problem(url) if connector is not None else None


def open_connector(
    kind: str, name: str, url: str, token: str, session: requests.Session | None = None
) -> RegistryConnector:
    """A connector for one request; the token lives only as long as it does. ``session``
    (pooled per registry) keeps connections to the registry open between requests."""
    connector = CONNECTORS.get(kind)
    if connector is None:
        raise ValueError(f"unknown registry kind {kind!r}")
    return connector(name, url, token, session=session)


__all__ = [
    "CONNECTORS",
    "DEFAULT_KIND",
    "ArtifactDownload",
    "ConnectorClass",
    "InvalidArtifactPath",
    "Page",
    "Provenance",
    "RegistryConnector",
    "RegistryNotFound",
    "UpstreamBroken",
    "UpstreamError",
    "UpstreamTimeout",
    "guess_kind",
    "is_retryable",
    "open_connector",
    "url_problem",
]
