"""Session fixtures: a real MLflow server on 127.0.0.1 and the registry seeded into it.

The server runs with one worker and no job runner (ready in ~5-8 s, ~0.5 GB), in its own
process group so that stopping it also stops the uvicorn worker it spawns.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from mlflow_seed import SeedInfo, seed_registry

__all__ = ["MlflowServer", "mlflow_seed", "mlflow_server"]

STARTUP_SECONDS = 90.0
START_ATTEMPTS = 3


@dataclass(frozen=True)
class MlflowServer:
    """A running MLflow server: its URL and where it keeps its database, files and log."""

    url: str
    port: int
    root: Path
    artifacts_dir: Path
    log_path: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _log_tail(log_path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _start(root: Path, attempt: int) -> tuple[subprocess.Popen, MlflowServer]:
    port = _free_port()
    server = MlflowServer(
        url=f"http://127.0.0.1:{port}",
        port=port,
        root=root,
        artifacts_dir=root / "artifacts",
        log_path=root / f"mlflow_server_{attempt}.log",
    )
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--serve-artifacts",
        "--artifacts-destination",
        str(server.artifacts_dir),
        "--workers",
        "1",
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(server.log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, server


def _wait_healthy(process: subprocess.Popen, server: MlflowServer) -> bool:
    """True once /health answers; False if the process died first."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if requests.get(f"{server.url}/health", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    _stop(process)
    pytest.fail(
        f"MLflow server did not become healthy in {STARTUP_SECONDS:g} s; log tail:\n"
        f"{_log_tail(server.log_path)}"
    )


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real ``mlflow server`` (sqlite + proxied artifacts) on a free 127.0.0.1 port."""
    root = tmp_path_factory.mktemp("mlflow")
    for attempt in range(START_ATTEMPTS):
        process, server = _start(root, attempt)
        if _wait_healthy(process, server):
            break
        _stop(process)
    else:
        pytest.fail(f"MLflow server would not start; log tail:\n{_log_tail(server.log_path)}")
    try:
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def mlflow_seed(mlflow_server: MlflowServer) -> SeedInfo:
    """The seeded registry (see ``mlflow_seed.seed_registry``)."""
    return seed_registry(mlflow_server.url)
