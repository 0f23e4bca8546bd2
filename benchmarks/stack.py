"""The servers a benchmark talks to: a real MLflow server and the registry service.

Both are started by ``wallaroo_registry_ui.demo`` (the same code the tests and the demo
use) under one temporary directory. Each carries a mark in its environment, so whatever
was started is found and stopped on exit, even a server whose start was interrupted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from benchmarks.measure import Sample, measured
from wallaroo_registry_ui.client import RegistryClient
from wallaroo_registry_ui.demo.mlflow_server import start_mlflow_server
from wallaroo_registry_ui.demo.processes import marked_groups, stop_group
from wallaroo_registry_ui.demo.registry_service import (
    LOCAL_REGISTRY_HOSTS,
    RegistryService,
    start_registry_service,
)

T = TypeVar("T")
MARK = "WALLAROO_REGISTRY_BENCH_RUN"
CLIENT_TIMEOUT_SECONDS = 300.0


@dataclass
class Stack:
    """MLflow + service + a user whose workspace has the MLflow registry attached."""

    root: Path
    mark: str = field(default_factory=lambda: uuid.uuid4().hex)
    mlflow_url: str = ""
    mlflow_pid: int = 0
    token: str = ""
    registry_id: str = ""
    workspace_id: int = 0
    service: RegistryService = field(init=False)
    client: RegistryClient = field(init=False)
    _exit: ExitStack = field(default_factory=ExitStack)
    _files_registry: tuple[str, str] | None = None

    def __enter__(self) -> Stack:
        self._exit.callback(self._stop_marked)
        try:
            mlflow = start_mlflow_server(self.root / "mlflow", env=self._env)
            self._exit.callback(mlflow.stop)
            self.mlflow_url = mlflow.url
            self.mlflow_pid = mlflow.process.pid
            self.service = start_registry_service(
                self.root / "service", env=self._env, allow_registry_hosts=LOCAL_REGISTRY_HOSTS
            )
            self._exit.callback(lambda: self.service.stop())
            self.token = self.service.add_user("bench@example.com")
            self._connect()
            self.workspace_id = self.client.create_workspace("bench")
            self.registry_id = self.client.create_registry(
                "local mlflow", self.mlflow_url, token="", workspace_id=self.workspace_id
            )
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._exit.close()

    def files_registry(self) -> tuple[str, str]:
        """A second MLflow server, attached to the workspace as a second registry and started
        on first use, for uploads that leave the first one (the one listed) alone: as when
        files come from another registry, or from a registry with workers to spare. Its
        registry id and URL."""
        if self._files_registry is None:
            mlflow = start_mlflow_server(self.root / "mlflow-files", env=self._env)
            self._exit.callback(mlflow.stop)
            registry_id = self.client.create_registry(
                "files mlflow", mlflow.url, token="", workspace_id=self.workspace_id
            )
            self._files_registry = (registry_id, mlflow.url)
        return self._files_registry

    @property
    def service_pid(self) -> int:
        return self.service.process.pid

    def measured(self, action: Callable[[], T]) -> tuple[Sample, T]:
        """``action`` timed, with the CPU the service, MLflow and this side spent on it."""
        return measured(action, self.service_pid, self.mlflow_pid)

    def restart_service(self) -> None:
        """A fresh service process (same data), so its memory starts from a clean slate."""
        self.service.stop()
        self.service = start_registry_service(
            self.root / "service", env=self._env, allow_registry_hosts=LOCAL_REGISTRY_HOSTS
        )
        self._connect()

    @property
    def _env(self) -> dict[str, str]:
        return {MARK: self.mark}

    def _connect(self) -> None:
        """A client of the service as it runs now (its port changes on restart)."""
        if hasattr(self, "client"):
            self.client.close()
        self.client = self.service.client(
            self.token, timeout=CLIENT_TIMEOUT_SECONDS, max_retry_seconds=5
        )

    def _stop_marked(self) -> None:
        """Stops any process group this run started that is still there."""
        if hasattr(self, "client"):
            self.client.close()
        for pgid in marked_groups(MARK, self.mark):
            stop_group(pgid)
