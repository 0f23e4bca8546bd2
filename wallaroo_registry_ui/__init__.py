"""Browse MLflow and Azure Databricks model registries from a notebook and upload into Wallaroo."""

from wallaroo_registry_ui.client import RegistryClient
from wallaroo_registry_ui.errors import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    RegistryApiError,
    ServerError,
    Unauthorized,
    UpstreamFailed,
    UpstreamTimedOut,
)

__version__ = "0.1.0"

__all__ = [
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "NotFound",
    "RegistryApiError",
    "RegistryBrowser",
    "RegistryClient",
    "ServerError",
    "Unauthorized",
    "UpstreamFailed",
    "UpstreamTimedOut",
    "__version__",
]


def __getattr__(name: str) -> object:
    """``RegistryBrowser`` is imported on first use, so the service never loads the widget stack."""
    if name == "RegistryBrowser":
        from wallaroo_registry_ui.widget import RegistryBrowser

        return RegistryBrowser
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
