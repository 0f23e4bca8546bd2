"""The registry service as a real ``wallaroo-registry-ui serve`` process, and its users."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from process_control import free_port, start_process, stop_process, wait_http

from wallaroo_registry_ui.client import RegistryClient

__all__ = ["alice", "bob", "mlflow_registry", "registry_service", "team_workspace"]

CLI = str(Path(sys.executable).parent / "wallaroo-registry-ui")
REGISTRY_TOKEN = "mlflow-secret-token-3f9a1c77b2e4d8"


@dataclass
class RegistryService:
    url: str
    data_dir: Path
    log_path: Path
    database_url: str

    def add_user(self, email: str) -> str:
        """Runs ``wallaroo-registry-ui user add`` and returns the token from its last line."""
        done = subprocess.run(
            [
                CLI,
                "user",
                "add",
                email,
                "--data-dir",
                str(self.data_dir),
                "--database-url",
                self.database_url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout.strip().splitlines()[-1]

    def client(self, token: str) -> RegistryClient:
        return RegistryClient(self.url, token=token, max_retry_seconds=5)


@pytest.fixture(scope="session")
def registry_service(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("registry-data")
    database_url = f"sqlite:///{data_dir / 'registry.db'}"
    port = free_port()
    log_path = data_dir / "service.log"
    process = start_process(
        [
            CLI,
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--database-url",
            database_url,
        ],
        log_path,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/v1/api/config", process, log_path)
    yield RegistryService(url=url, data_dir=data_dir, log_path=log_path, database_url=database_url)
    stop_process(process)


@dataclass
class User:
    email: str
    token: str
    client: RegistryClient


@pytest.fixture(scope="session")
def alice(registry_service: RegistryService) -> User:
    token = registry_service.add_user("alice@example.com")
    return User("alice@example.com", token, registry_service.client(token))


@pytest.fixture(scope="session")
def bob(registry_service: RegistryService) -> User:
    token = registry_service.add_user("bob@example.com")
    return User("bob@example.com", token, registry_service.client(token))


@pytest.fixture(scope="session")
def team_workspace(alice: User) -> int:
    return alice.client.create_workspace("team-alice")


@pytest.fixture(scope="session")
def mlflow_registry(alice: User, team_workspace: int, mlflow_seed, mlflow_server) -> str:
    """Alice's connection to the seeded MLflow server, attached to her workspace."""
    return alice.client.create_registry(
        "local mlflow", mlflow_server.url, token=REGISTRY_TOKEN, workspace_id=team_workspace
    )
