"""``wallaroo-registry-ui demo``: MLflow with sample models, the registry service, a demo user
and workspace with that registry attached, and JupyterLab on the panel's notebook.

The servers run in their own process groups, so a Ctrl-C reaches only this process, which
then stops JupyterLab, the service and MLflow in that order; SIGTERM does the same.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import secrets
import signal
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from wallaroo_registry_ui.client.errors import RegistryApiError
from wallaroo_registry_ui.demo.demo_state import DemoLayout
from wallaroo_registry_ui.demo.jupyter_server import start_jupyter
from wallaroo_registry_ui.demo.mlflow_server import start_mlflow_server
from wallaroo_registry_ui.demo.processes import ServerFailedToStart, log_tail, port_is_free
from wallaroo_registry_ui.demo.registry_service import (
    LOCAL_REGISTRY_HOSTS,
    start_registry_service,
)
from wallaroo_registry_ui.demo.single_run import AlreadyRunning, hold_lock, mark, stop_leftovers
from wallaroo_registry_ui.demo.workspace_setup import (
    DEMO_EMAIL,
    REGISTRY_NAME,
    WORKSPACE_NAME,
    demo_api_token,
    demo_registry,
    demo_workspace,
)

URL_VARIABLE = "WALLAROO_REGISTRY_URL"
TOKEN_VARIABLE = "WALLAROO_REGISTRY_TOKEN"
DEFAULT_NOTEBOOK = Path("notebooks/registry_browser.ipynb")
DEFAULT_DATA_DIR = Path(".data/demo")
MLFLOW_PORT = 5000
SERVICE_PORT = 8300
JUPYTER_PORT = 8888
STARTUP_FAILURES = (ServerFailedToStart, RegistryApiError, subprocess.CalledProcessError, OSError)


def notebook_environment(service_url: str, api_token: str) -> dict[str, str]:
    """What the notebook reads to connect: set on JupyterLab, inherited by its kernels."""
    return {URL_VARIABLE: service_url, TOKEN_VARIABLE: api_token}


def run_demo(
    data_dir: Path = DEFAULT_DATA_DIR,
    notebook: Path = DEFAULT_NOTEBOOK,
    *,
    jupyter_port: int = JUPYTER_PORT,
    reset: bool = False,
    say: Callable[[str], None] = print,
) -> int:
    """Start the demo and keep it running until Ctrl-C or SIGTERM; the exit code."""
    data_dir, notebook = data_dir.resolve(), notebook.resolve()
    if not notebook.is_file():
        say(f"error: no notebook at {notebook}; run from the repository's root or pass --notebook")
        return 2
    try:
        lock = hold_lock(data_dir)
    except AlreadyRunning as error:
        say(f"error: {error}")
        return 1
    with lock, _stop_signals_interrupt(), contextlib.ExitStack() as running:
        try:
            stopped = stop_leftovers(data_dir)
            if stopped:
                say(f"Stopped {stopped} server(s) an earlier demo left running.")
            servers = _start(DemoLayout(data_dir), notebook, jupyter_port, reset, running, say)
            return _wait_for_stop(servers, say)
        except KeyboardInterrupt:
            return 0
        except STARTUP_FAILURES as error:
            say(f"error: the demo could not start: {error}")
            return 1
        finally:
            _ignore_stop_signals()
            say("Stopping JupyterLab, the registry service and MLflow ...")
            running.close()
            say("Stopped.")


class RunningServer(Protocol):
    """What the demo watches of each server."""

    process: subprocess.Popen
    log_path: Path


def _start(
    layout: DemoLayout,
    notebook: Path,
    jupyter_port: int,
    reset: bool,
    running: contextlib.ExitStack,
    say: Callable[[str], None],
) -> dict[str, RunningServer]:
    """Start and set up everything; registers each server's stop on ``running``."""
    if reset:
        layout.reset()
    layout.drop_half_seeded_mlflow()
    saved = layout.load()
    marked = mark(layout.data_dir)

    say("Starting MLflow ...")
    mlflow = start_mlflow_server(layout.mlflow_dir, _preferred(MLFLOW_PORT), env=marked)
    running.callback(mlflow.stop)
    models = _seed_once(layout, mlflow.url, say)

    say("Starting the registry service ...")
    service = start_registry_service(
        layout.service_dir,
        port=_preferred(SERVICE_PORT),
        env=marked,
        allow_registry_hosts=LOCAL_REGISTRY_HOSTS,
    )
    running.callback(service.stop)
    saved.api_token = demo_api_token(service, saved.api_token)
    with service.client(saved.api_token) as client:
        workspace_id = demo_workspace(client)
        demo_registry(client, workspace_id, mlflow.url)
    saved.jupyter_token = saved.jupyter_token or secrets.token_hex(24)
    layout.save(saved)

    say("Starting JupyterLab ...")
    notebook = layout.working_copy(notebook)
    jupyter = start_jupyter(
        "lab",
        notebook.parent,
        layout.jupyter_dir,
        saved.jupyter_token,
        port=_preferred(jupyter_port),
        env={**marked, **notebook_environment(service.url, saved.api_token)},
    )
    running.callback(jupyter.stop)

    say("")
    say("The demo is running:")
    say(f"  MLflow            {mlflow.url}   models: {', '.join(models)}")
    say(
        f"  registry service  {service.url}   user {DEMO_EMAIL}, workspace "
        f"{WORKSPACE_NAME!r}, registry {REGISTRY_NAME!r}"
    )
    say(f"  data and logs     {layout.data_dir}")
    say("")
    say("Open the notebook in a browser:")
    say("")
    say(f"    {jupyter.notebook_url(notebook.name)}")
    say("")
    say("Press Ctrl-C to stop everything.")
    return {"MLflow": mlflow, "registry service": service, "JupyterLab": jupyter}


def _seed_once(layout: DemoLayout, url: str, say: Callable[[str], None]) -> list[str]:
    """Register the sample models on the first run; later runs reuse them."""
    if layout.seeded_marker.exists():
        with contextlib.suppress(OSError, ValueError):
            return list(json.loads(layout.seeded_marker.read_text()))
        return []
    say("Training and registering the sample models (first run only) ...")
    from wallaroo_registry_ui.demo.seed import seed_demo_registry

    with _quiet_mlflow():
        names = list(seed_demo_registry(url))
    layout.seeded_marker.write_text(json.dumps(names))
    return names


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Seeding through MLflow's client prints two lines per run, logs a line per version and
    warns about stages; none of it helps someone starting the demo."""
    import mlflow  # noqa: F401 - it sets its loggers' levels on import, before they are quieted

    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _preferred(port: int) -> int | None:
    """The well-known port while it is free, else None (a free one is chosen)."""
    return port if port and port_is_free(port) else None


def _wait_for_stop(servers: dict[str, RunningServer], say: Callable[[str], None]) -> int:
    """Sleep until Ctrl-C/SIGTERM (0) or until a server exits on its own (1, with its log)."""
    while True:
        for name, server in servers.items():
            code = server.process.poll()
            if code is not None:
                say(f"error: {name} exited with code {code}; log tail ({server.log_path}):")
                say(log_tail(server.log_path))
                return 1
        time.sleep(0.5)


@contextlib.contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C for the duration; the previous handlers come back after."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore_stop_signals() -> None:
    """While stopping, a second Ctrl-C must not cut the clean-up short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
