"""The demo's user, workspace and MLflow registry in the registry service, made on the first
run and found again on later ones (a registry whose MLflow moved to another port is replaced)."""

from __future__ import annotations

from wallaroo_registry_ui.client import RegistryClient
from wallaroo_registry_ui.client.errors import Unauthorized
from wallaroo_registry_ui.demo.registry_service import RegistryService

DEMO_EMAIL = "demo@example.com"
WORKSPACE_NAME = "demo"
REGISTRY_NAME = "local mlflow"


def demo_api_token(service: RegistryService, saved_token: str = "") -> str:
    """The saved token while the service still accepts it, else a new one for the demo user."""
    if saved_token:
        with service.client(saved_token) as client:
            try:
                client.list_workspaces()
            except Unauthorized:
                pass
            else:
                return saved_token
    return service.add_user(DEMO_EMAIL)


def demo_workspace(client: RegistryClient) -> int:
    """The id of the user's ``demo`` workspace, created if missing."""
    for workspace in client.list_workspaces():
        if workspace.name == WORKSPACE_NAME and not workspace.archived:
            return workspace.id
    return client.create_workspace(WORKSPACE_NAME)


def demo_registry(client: RegistryClient, workspace_id: int, mlflow_url: str) -> str:
    """The id of the registry for ``mlflow_url``, attached to the workspace.

    Registries of the demo's name that point at an earlier address are detached from the
    workspace, so the panel lists only the one that works.
    """
    wanted = mlflow_url.rstrip("/")
    attached = client.list_registries(workspace_id)
    for registry in attached:
        if registry.name == REGISTRY_NAME and registry.url.rstrip("/") != wanted:
            client.detach_registry(registry.id, workspace_id)
    for registry in attached:
        if registry.name == REGISTRY_NAME and registry.url.rstrip("/") == wanted:
            return registry.id
    for registry in client.list_registries():
        if registry.name == REGISTRY_NAME and registry.url.rstrip("/") == wanted:
            client.attach_registry(registry.id, workspace_id)
            return registry.id
    return client.create_registry(REGISTRY_NAME, wanted, workspace_id=workspace_id)
