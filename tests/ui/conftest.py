"""The browser side of the UI tests: a fresh Chromium page on a notebook for each test, and a
registry slow enough to watch an upload move."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect
from support.fault_proxy import FaultProxy
from support.notebook_page import NotebookPage

VIEWPORT = {"width": 1400, "height": 1000}
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
SLOW_BYTES_PER_SECOND = 4 * 1024 * 1024  # the seeded 40 MiB file takes about 10 s


@dataclass(frozen=True)
class SlowRegistry:
    """A workspace of the notebook's user whose registry reaches MLflow through a proxy that
    sends artifact bodies slowly."""

    workspace_id: int
    registry_id: str
    proxy: FaultProxy


@pytest.fixture
def notebook(chromium, screenshot_dir):
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    expect.set_options(timeout=30_000)
    try:
        yield NotebookPage(page, screenshot_dir)
    finally:
        context.close()


@pytest.fixture(scope="session")
def slow_registry(registry_service, notebook_user, mlflow_seed) -> Iterator[SlowRegistry]:
    """Created after the user's first workspace, so the notebook as shipped still picks that."""
    with FaultProxy(mlflow_seed.url) as proxy:
        proxy.throttle(SLOW_BYTES_PER_SECOND, prefix=ARTIFACTS)
        with registry_service.client(notebook_user.token, max_retry_seconds=5) as client:
            workspace_id = client.create_workspace("slow-uploads")
            registry_id = client.create_registry(
                "throttled mlflow", proxy.url, workspace_id=workspace_id
            )
        yield SlowRegistry(workspace_id, registry_id, proxy)
