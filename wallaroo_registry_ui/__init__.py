"""Browse MLflow and Azure Databricks model registries from a notebook and upload into Wallaroo.

The public names load on first use, so ``import wallaroo_registry_ui`` costs almost nothing and
the service, which shares this package, never loads the client's or the panel's dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from wallaroo_registry_ui._version import __version__

if TYPE_CHECKING:
    from wallaroo_registry_ui.client import RegistryClient
    from wallaroo_registry_ui.client.errors import (
        BadRequest,
        Conflict,
        ConnectionFailed,
        Forbidden,
        NotFound,
        RegistryApiError,
        ServerError,
        Unauthorized,
        UploadFailed,
        UpstreamFailed,
        UpstreamTimedOut,
    )
    from wallaroo_registry_ui.client.records import UploadProgress
    from wallaroo_registry_ui.panel import RegistryBrowser

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
    "UploadFailed",
    "UploadProgress",
    "UpstreamFailed",
    "UpstreamTimedOut",
    "__version__",
]

_HOMES = {
    "RegistryClient": "wallaroo_registry_ui.client",
    "RegistryBrowser": "wallaroo_registry_ui.panel",
    "UploadProgress": "wallaroo_registry_ui.client.records",
}
_ERRORS_HOME = "wallaroo_registry_ui.client.errors"


def __getattr__(name: str) -> object:
    home = _HOMES.get(name, _ERRORS_HOME if name in __all__ else None)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
