"""Session fixtures for the browser tests: a user of the service with the seeded MLflow
attached, JupyterLab and Notebook 7 started on copies of the notebook with that user's URL and
token in their environment, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.servers import running
from wallaroo_registry_ui.demo.jupyter_server import JupyterServer, start_jupyter
from wallaroo_registry_ui.demo.registry_service import RegistryService
from wallaroo_registry_ui.demo.stack import notebook_environment

__all__ = ["chromium", "jupyter_lab", "jupyter_notebook", "notebook_user", "screenshot_dir"]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "registry_browser.ipynb"
SCREENSHOTS = REPO / "test-output" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class NotebookUser:
    """Who the notebook connects as, and what that user's workspace and registry are."""

    email: str
    token: str
    workspace_id: int
    registry_id: str


@pytest.fixture(scope="session")
def notebook_user(registry_service: RegistryService, mlflow_seed) -> NotebookUser:
    """A user of its own (so uploads here change no other test's workspace) with one
    workspace and the seeded MLflow attached to it."""
    email = "nora@example.com"
    token = registry_service.add_user(email)
    with registry_service.client(token, max_retry_seconds=5) as client:
        workspace_id = client.create_workspace("notebook-panel")
        registry_id = client.create_registry(
            "seeded mlflow", mlflow_seed.url, workspace_id=workspace_id
        )
    return NotebookUser(email, token, workspace_id, registry_id)


def _serve(
    app: str,
    tmp_path_factory: pytest.TempPathFactory,
    service: RegistryService,
    user: NotebookUser,
) -> Iterator[JupyterServer]:
    """A Jupyter server whose root holds a copy of the notebook (the repository's file is
    never saved over) and whose kernels see the service's URL and the user's token."""
    root = tmp_path_factory.mktemp(f"notebooks-{app}")
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    state = tmp_path_factory.mktemp(f"jupyter-{app}")
    environment = notebook_environment(service.url, user.token)
    with running(
        lambda: start_jupyter(app, root, state, secrets.token_hex(16), env=environment)
    ) as server:
        yield server


@pytest.fixture(scope="session")
def jupyter_lab(
    tmp_path_factory: pytest.TempPathFactory,
    registry_service: RegistryService,
    notebook_user: NotebookUser,
) -> Iterator[JupyterServer]:
    """JupyterLab 4 on a copy of the notebook."""
    yield from _serve("lab", tmp_path_factory, registry_service, notebook_user)


@pytest.fixture(scope="session")
def jupyter_notebook(
    tmp_path_factory: pytest.TempPathFactory,
    registry_service: RegistryService,
    notebook_user: NotebookUser,
) -> Iterator[JupyterServer]:
    """Notebook 7 on a copy of the notebook."""
    yield from _serve("notebook", tmp_path_factory, registry_service, notebook_user)


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Debian's Chromium (never a browser Playwright downloads), headless."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: 'make system' installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def screenshot_dir(request: pytest.FixtureRequest) -> Path:
    """``test-output/screenshots/<test name>/``, emptied first, for one picture per step."""
    folder = SCREENSHOTS / request.node.name.replace("[", "-").rstrip("]")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
