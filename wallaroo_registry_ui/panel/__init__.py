"""The notebook panel: ``RegistryBrowser`` and the pieces behind its view."""

from wallaroo_registry_ui.panel.widget import RegistryBrowser

__all__ = ["RegistryBrowser"]
