"""The Python client of the registry API: ``RegistryClient``, its records, frames and errors."""

from wallaroo_registry_ui.client.client import RegistryClient

__all__ = ["RegistryClient"]
