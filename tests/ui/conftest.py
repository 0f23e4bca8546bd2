"""The browser side of the UI tests: a fresh Chromium page on a notebook for each test."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from support.notebook_page import NotebookPage

VIEWPORT = {"width": 1400, "height": 1000}


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
