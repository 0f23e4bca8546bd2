"""Session fixtures: a real MLflow server on 127.0.0.1 and the registry seeded into it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.servers import running
from wallaroo_registry_ui.demo.mlflow_server import MlflowServer, start_mlflow_server
from wallaroo_registry_ui.demo.seed import SeedInfo, seed_registry

__all__ = ["MlflowServer", "mlflow_seed", "mlflow_server"]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real ``mlflow server`` (sqlite + proxied artifacts) on a free 127.0.0.1 port."""
    with running(lambda: start_mlflow_server(tmp_path_factory.mktemp("mlflow"))) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_seed(mlflow_server: MlflowServer) -> SeedInfo:
    """The seeded registry (see ``wallaroo_registry_ui.demo.seed.seed_registry``)."""
    return seed_registry(mlflow_server.url)
