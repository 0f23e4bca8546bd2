"""JupyterLab or Notebook 7 as a child process, with its own config, runtime, settings and
workspaces, so neither the user's Jupyter setup nor a previous run changes what it shows."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from wallaroo_registry_ui.demo.processes import free_port, start_process, stop_process, wait_http

STARTUP_SECONDS = 90.0
APPS = ("lab", "notebook")

# Every notebook cell rendered (widgets off screen too), and no "get Jupyter news?" toast.
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


@dataclass(frozen=True)
class JupyterServer:
    """A running JupyterLab (``app="lab"``) or Notebook 7 (``app="notebook"``)."""

    app: str
    url: str
    token: str
    root_dir: Path
    log_path: Path
    process: subprocess.Popen

    def notebook_url(self, path: str) -> str:
        """The address that opens the notebook at ``path`` (relative to the root), logged in."""
        route = "lab/tree" if self.app == "lab" else "notebooks"
        return f"{self.url}/{route}/{quote(path)}?token={self.token}"

    def stop(self) -> None:
        """Stop the server; it shuts its kernels down on SIGTERM."""
        stop_process(self.process, grace=15.0)


def isolated_environment(state_dir: Path) -> dict[str, str]:
    """Environment variables that keep Jupyter's config, runtime, settings and workspaces
    under ``state_dir``, with the user settings above written there.

    The data dir is left alone: the kernelspec and the lab extensions come from the venv.
    """
    settings_dir = state_dir / "settings"
    for relative, values in USER_SETTINGS.items():
        target = settings_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    return {
        "JUPYTER_CONFIG_DIR": str(state_dir / "config"),
        "JUPYTER_RUNTIME_DIR": str(state_dir / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
        "JUPYTERLAB_WORKSPACES_DIR": str(state_dir / "workspaces"),
    }


def jupyter_command(app: str, root_dir: Path, port: int, token: str) -> list[str]:
    """The command line: 127.0.0.1 only, no browser, a fixed token, the app exposed in the
    page as ``window.jupyterapp`` (what browser tests wait on), no news or update checks."""
    if app not in APPS:
        raise ValueError(f"app must be one of {APPS}, not {app!r}")
    command = [
        str(Path(sys.executable).with_name("jupyter")),
        app,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--allow-root",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--expose-app-in-browser",
    ]
    if app == "lab":
        command += [
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
    return command


def start_jupyter(
    app: str,
    root_dir: Path,
    state_dir: Path,
    token: str,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
) -> JupyterServer:
    """Start the server on ``port`` (a free one if None), serving ``root_dir``; ``env`` is
    added to its environment, so every kernel it starts sees it too."""
    state_dir.mkdir(parents=True, exist_ok=True)
    chosen = port or free_port()
    log_path = state_dir / f"jupyter-{app}.log"
    process = start_process(
        jupyter_command(app, root_dir, chosen, token),
        log_path,
        env={**isolated_environment(state_dir), **(env or {})},
        cwd=root_dir,
    )
    url = f"http://127.0.0.1:{chosen}"
    wait_http(f"{url}/api/status?token={token}", process, log_path, timeout=STARTUP_SECONDS)
    return JupyterServer(app, url, token, root_dir, log_path, process)
