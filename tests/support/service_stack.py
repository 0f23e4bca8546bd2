"""The registry service as a real ``wallaroo-registry-ui serve`` process, and its users."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from support.servers import running
from wallaroo_registry_ui.client import RegistryClient
from wallaroo_registry_ui.demo.registry_service import (
    CLI,
    LOCAL_REGISTRY_HOSTS,
    RegistryService,
    start_registry_service,
)
from wallaroo_registry_ui.server.store import User as StoredUser
from wallaroo_registry_ui.server.store import make_engine

__all__ = ["admin", "alice", "bob", "mlflow_registry", "registry_service", "team_workspace"]

REGISTRY_TOKEN = "mlflow-secret-token-3f9a1c77b2e4d8"


@pytest.fixture(scope="session")
def registry_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryService]:
    """A real ``wallaroo-registry-ui serve`` on SQLite, on a free 127.0.0.1 port, allowed to
    connect to the registries the tests run on 127.0.0.1."""
    data_dir = tmp_path_factory.mktemp("registry-data")
    with running(
        lambda: start_registry_service(data_dir, allow_registry_hosts=LOCAL_REGISTRY_HOSTS)
    ) as service:
        yield service


@dataclass
class User:
    email: str
    token: str
    client: RegistryClient


@pytest.fixture(scope="session")
def alice(registry_service: RegistryService) -> User:
    token = registry_service.add_user("alice@example.com")
    return User("alice@example.com", token, registry_service.client(token, max_retry_seconds=5))


@pytest.fixture(scope="session")
def bob(registry_service: RegistryService) -> User:
    token = registry_service.add_user("bob@example.com")
    return User("bob@example.com", token, registry_service.client(token, max_retry_seconds=5))


@pytest.fixture(scope="session")
def admin(registry_service: RegistryService) -> User:
    """An instance admin (``user add --admin``), a member of no workspace."""
    token = registry_service.add_user("root@example.com", admin=True)
    return User("root@example.com", token, registry_service.client(token, max_retry_seconds=5))


@pytest.fixture(scope="session")
def team_workspace(alice: User) -> int:
    return alice.client.create_workspace("team-alice")


@pytest.fixture(scope="session")
def mlflow_registry(alice: User, team_workspace: int, mlflow_seed, mlflow_server) -> str:
    """Alice's connection to the seeded MLflow server, attached to her workspace."""
    return alice.client.create_registry(
        "local mlflow", mlflow_server.url, token=REGISTRY_TOKEN, workspace_id=team_workspace
    )


def run_cli(service: RegistryService, *args: str) -> subprocess.CompletedProcess:
    """``wallaroo-registry-ui <args>`` on the service's data (its store flags added last)."""
    return subprocess.run(
        [*CLI, *args, *service.store_flags()],
        capture_output=True,
        text=True,
        timeout=60,
    )


def make_admin(service: RegistryService, email: str) -> None:
    """Make a user an instance admin, in the service's database."""
    engine = make_engine(service.database_url)
    try:
        with Session(engine) as session, session.begin():
            session.scalars(
                select(StoredUser).where(StoredUser.email == email)
            ).one().is_admin = True
    finally:
        engine.dispose()
