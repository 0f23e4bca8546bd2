"""Connectors: one per registry kind, each speaking that registry's own REST API."""

from wallaroo_registry_ui.server.connectors.base import (
    ArtifactDownload,
    InvalidArtifactPath,
    Page,
    RegistryConnector,
    RegistryNotFound,
    UpstreamError,
    UpstreamTimeout,
)

__all__ = [
    "ArtifactDownload",
    "InvalidArtifactPath",
    "Page",
    "RegistryConnector",
    "RegistryNotFound",
    "UpstreamError",
    "UpstreamTimeout",
]
