"""With 100,000 models in the kernel, one page is all that crosses the comm."""

from __future__ import annotations

import json

import pandas as pd
from support.widget_driver import ViewDriver

from wallaroo_registry_ui import RegistryBrowser
from wallaroo_registry_ui.client.frames import REGISTERED_MODEL_COLUMNS

ROWS = 100_000
PAGE_BYTES = 100_000
BUNDLE = ("_esm", "_css")


def _many_models(count: int) -> pd.DataFrame:
    names = [f"model-{i:06d}" for i in range(count)]
    stamp = pd.Timestamp("2026-11-01", tz="UTC")
    return pd.DataFrame(
        {
            "name": names,
            "description": ["a fairly long description of what this model does " * 3] * count,
            "user_id": ["someone@example.com"] * count,
            "latest_version": ["3"] * count,
            "stages": ["Production"] * count,
            "aliases": ["champion@3"] * count,
            "tags": ["team=ds, task=classification"] * count,
            "created_at": [stamp] * count,
            "updated_at": [stamp] * count,
        },
        columns=REGISTERED_MODEL_COLUMNS,
    )


def _state_size(browser: RegistryBrowser) -> int:
    state = {k: v for k, v in browser.get_state().items() if k not in BUNDLE}
    return len(json.dumps(state, default=str))


def test_one_page_of_a_huge_frame_crosses_the_comm(registry_service, alice):
    browser = RegistryBrowser.connect(registry_service.url, token=alice.token)
    view = ViewDriver(browser)
    try:
        frame = _many_models(ROWS)
        browser._show_loaded_models(frame, next_token="more-in-the-registry")
        assert len(browser.models) == ROWS
        assert len(browser.model_rows) == browser.page_size
        assert browser.models_loaded == ROWS and browser.models_more

        page_trait = len(json.dumps(browser.get_state()["model_rows"]))
        assert page_trait < PAGE_BYTES
        assert len(view.sent_text()) < PAGE_BYTES
        assert _state_size(browser) < PAGE_BYTES

        view.sent.clear()
        view.set(models_offset=50_000)
        view.wait()
        assert browser.models_offset == 50_000
        assert browser.model_rows[0]["name"] == "model-050000"
        assert len(view.sent_text()) < PAGE_BYTES

        view.sent.clear()
        view.set(models_offset=10**9)
        view.wait()
        assert browser.model_rows[-1]["name"] == f"model-{ROWS - 1:06d}"
        assert len(view.sent_text()) < PAGE_BYTES
        assert _state_size(browser) < PAGE_BYTES
    finally:
        browser.close()
