"""A real ``mlflow server`` on 127.0.0.1: SQLite, proxied artifacts, one worker, no job runner.

One worker and no job runner make it ready in ~5-8 s with ~0.5 GB instead of ~15 s and
~2.4 GB; its own process group lets a stop reach the uvicorn worker it spawns.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wallaroo_registry_ui.demo.processes import (
    ServerFailedToStart,
    free_port,
    start_process,
    stop_process,
    wait_http,
)

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
    process: subprocess.Popen

    def stop(self) -> None:
        """Stop the server and every process it started."""
        stop_process(self.process)


def mlflow_command(root: Path, port: int) -> list[str]:
    """The command line of a server keeping everything under ``root``."""
    return [
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
        str(root / "artifacts"),
        "--workers",
        "1",
    ]


def start_mlflow_server(
    root: Path,
    port: int | None = None,
    *,
    attempts: int = START_ATTEMPTS,
    env: Mapping[str, str] | None = None,
) -> MlflowServer:
    """Start a server on ``port`` (a free one if None) and wait until ``/health`` answers.

    A failed start is retried on a new free port, since another process can take a free
    port between choosing it and binding it.
    """
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / "mlflow_server.log"
    failure: ServerFailedToStart | None = None
    for attempt in range(attempts):
        chosen = port if port is not None and attempt == 0 else free_port()
        process = start_process(
            mlflow_command(root, chosen),
            log_path,
            env={**(env or {}), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            cwd=root,
        )
        url = f"http://127.0.0.1:{chosen}"
        try:
            wait_http(f"{url}/health", process, log_path, timeout=STARTUP_SECONDS)
        except ServerFailedToStart as error:
            failure = error
            continue
        return MlflowServer(url, chosen, root, root / "artifacts", log_path, process)
    raise ServerFailedToStart(f"MLflow server would not start in {attempts} attempts: {failure}")
