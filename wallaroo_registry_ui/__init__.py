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
    "RegistryClient",
    "ServerError",
    "Unauthorized",
    "UpstreamFailed",
    "UpstreamTimedOut",
    "__version__",
]
