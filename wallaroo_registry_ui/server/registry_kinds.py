"""Which connector talks to a registry, chosen from its kind or guessed from its URL."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from wallaroo_registry_ui.server.connectors.base import RegistryConnector

KINDS = ("mlflow", "databricks")
SUPPORTED_KINDS = KINDS
DATABRICKS_HOST_SUFFIXES = (".azuredatabricks.net", ".cloud.databricks.com", ".gcp.databricks.com")


def guess_kind(url: str) -> str:
    """Databricks for a workspace host (Azure, AWS or GCP), else MLflow."""
    host = (urlsplit(url).hostname or "").lower()
    return "databricks" if host.endswith(DATABRICKS_HOST_SUFFIXES) else "mlflow"


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a registry's root URL; None when it can."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host, e.g. https://mlflow.example.com"
    if parts.username or parts.password:
        return "must not carry credentials; give the token in 'token'"
    if parts.query or parts.fragment:
        return "must be the registry's root URL, without a query or fragment"
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "has an invalid port"
    if guess_kind(url) == "databricks" and parts.path.strip("/"):
        return (
            "must be the Databricks workspace URL without a path, "
            "e.g. https://adb-<id>.<n>.azuredatabricks.net"
        )
    return None


def open_connector(
    kind: str, name: str, url: str, token: str, session: requests.Session | None = None
) -> RegistryConnector:
    """A connector for one request; the token lives only as long as it does. ``session``
    (pooled per registry) keeps connections to the registry open between requests."""
    if kind == "mlflow":
        from wallaroo_registry_ui.server.connectors.mlflow import MlflowConnector

        return MlflowConnector(name, url, token, session=session)
    if kind == "databricks":
        from wallaroo_registry_ui.server.connectors.databricks import DatabricksConnector

        return DatabricksConnector(name, url, token, session=session)
    raise ValueError(f"unknown registry kind {kind!r}")
