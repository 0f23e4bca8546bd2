"""Fixtures of the upload-job tests: an MLflow server of their own holding a generated file,
the fault proxy in front of it, and a service tuned for short leases and retry budgets.

The MLflow server is their own so the models they register never change what the browsing
tests list on the shared one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.fault_proxy import FaultProxy
from support.generated_files import GeneratedFile, register_generated_file
from support.servers import running, started
from support.upload_api import UploadApi, ended
from wallaroo_registry_ui.demo.mlflow_server import MlflowServer, start_mlflow_server
from wallaroo_registry_ui.demo.registry_service import (
    LOCAL_REGISTRY_HOSTS,
    RegistryService,
    start_registry_service,
)

__all__ = [
    "fault_proxy",
    "generated_file",
    "proxied_registry",
    "upload_mlflow",
    "upload_stack",
]

FILE_SIZE = 24 * 1024 * 1024
LEASE_SECONDS = 3
RETRY_SECONDS = 30
UPLOAD_ENV = {
    "WALLAROO_REGISTRY_UPLOAD_LEASE_SECONDS": str(LEASE_SECONDS),
    "WALLAROO_REGISTRY_UPLOAD_RETRY_SECONDS": str(RETRY_SECONDS),
}
REGISTRY_TOKEN = "upload-registry-token-9c41e07d5b3a"
REGISTRY_NAME = "proxied mlflow"


@dataclass
class UploadStack:
    """A running service, one user of it and that user's workspace."""

    service: RegistryService
    email: str
    api: UploadApi
    workspace_id: int
    started: list[int] = field(default_factory=list)

    @property
    def artifacts_dir(self) -> Path:
        return self.service.data_dir / "artifacts"

    def stored_files(self) -> set[Path]:
        """Every file in the service's artifact store, staged or final."""
        if not self.artifacts_dir.exists():
            return set()
        return {path for path in self.artifacts_dir.rglob("*") if path.is_file()}

    def stored_file(self, version: dict) -> Path:
        """Where a ready version's bytes are: ``artifacts/<version uuid>/<file name>``."""
        info = version["file_info"]
        return self.artifacts_dir / info["version"] / info["file_name"]

    def connect(self, url: str, name: str = REGISTRY_NAME) -> str:
        """A registry at ``url`` (with the test token), attached to the workspace."""
        return self.api.connect_registry(name, url, REGISTRY_TOKEN, self.workspace_id)

    def start(self, registry_id: str, path: str, name: str) -> int:
        """An upload into the workspace, remembered so ``stop_leftovers`` can end it."""
        version_id = self.api.start(registry_id, self.workspace_id, path, name)
        self.started.append(version_id)
        return version_id

    def stop_leftovers(self, timeout: float = 15.0) -> None:
        """Cancel what a test started and left running, so the next test sees a quiet
        service; waits until each has ended."""
        started, self.started = self.started, []
        for version_id in started:
            if not ended(self.api.upload(version_id)):
                self.api.cancel(version_id)
        for version_id in started:
            self.api.wait_ended(version_id, timeout)


def start_upload_service(
    data_dir: Path, *, database_url: str | None = None, env: Mapping[str, str] | None = None
) -> RegistryService:
    """``serve`` with the short lease and retry budget of ``UPLOAD_ENV`` (plus ``env``),
    allowed to connect to the registries the tests run on 127.0.0.1."""
    return started(
        lambda: start_registry_service(
            data_dir,
            database_url=database_url,
            env={**UPLOAD_ENV, **(env or {})},
            allow_registry_hosts=LOCAL_REGISTRY_HOSTS,
        )
    )


def open_stack(service: RegistryService, email: str) -> UploadStack:
    """A user of ``service`` (created or reused) with a new workspace of their own."""
    api = UploadApi(service.url, service.add_user(email))
    workspace = api.ok("workspaces/create", {"workspace_name": f"uploads-{uuid.uuid4().hex[:8]}"})
    return UploadStack(service, email, api, workspace["workspace_id"])


@pytest.fixture(scope="session")
def upload_mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real MLflow server that only the upload tests write to."""
    folder = tmp_path_factory.mktemp("upload-mlflow")
    with running(lambda: start_mlflow_server(folder)) as server:
        yield server


@pytest.fixture(scope="session")
def generated_file(upload_mlflow: MlflowServer) -> GeneratedFile:
    """A random 24 MiB file registered as version 1 of its own model."""
    return register_generated_file(upload_mlflow.url, FILE_SIZE)


@pytest.fixture(scope="session")
def upload_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UploadStack]:
    """A service on SQLite with short upload leases and retry budgets, and its user."""
    service = start_upload_service(tmp_path_factory.mktemp("upload-service"))
    try:
        stack = open_stack(service, "uploader@example.com")
        yield stack
        stack.api.close()
    finally:
        service.stop()


@pytest.fixture
def fault_proxy(upload_mlflow: MlflowServer) -> Iterator[FaultProxy]:
    """A fresh fault proxy in front of the upload tests' MLflow server."""
    with FaultProxy(upload_mlflow.url) as proxy:
        yield proxy


@pytest.fixture
def proxied_registry(upload_stack: UploadStack, fault_proxy: FaultProxy) -> Iterator[str]:
    """A registry of ``upload_stack``'s workspace that reaches MLflow through the proxy;
    the test's uploads still running afterwards are cancelled before the proxy closes."""
    yield upload_stack.connect(fault_proxy.url)
    fault_proxy.reset()
    upload_stack.stop_leftovers()
