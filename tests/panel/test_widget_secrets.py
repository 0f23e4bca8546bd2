"""No API token and no registry token reaches the widget's state, its embed data, its repr or
any message to the front-end, through every step, including failed ones."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pandas as pd
import pytest
from ipywidgets.embed import embed_data
from support.widget_driver import ViewDriver

from wallaroo_registry_ui import RegistryBrowser
from wallaroo_registry_ui.client.errors import UpstreamFailed

KNOWN_TOKEN = "dapi-widget-known-registry-token-51f0c2a9e8"


def _strings(value: Any, seen: set[int]) -> list[str]:
    """Every string reachable from ``value`` through containers, dataclasses and objects."""
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, str):
        return [value]
    if isinstance(value, bytes | int | float | bool | type(None) | pd.DataFrame):
        return [value.to_json()] if isinstance(value, pd.DataFrame) else []
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    elif dataclasses.is_dataclass(value):
        items = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif hasattr(value, "__dict__") and type(value).__module__.startswith("wallaroo_registry_ui"):
        items = list(vars(value).values())
    else:
        return []
    found: list[str] = []
    for item in items:
        found += _strings(item, seen)
    return found


def test_tokens_never_leave_the_kernel(
    registry_service, alice, team_workspace, mlflow_registry, mlflow_seed, mlflow_server
):
    browser = RegistryBrowser.connect(registry_service.url, token=alice.token, max_retry_seconds=2)
    view = ViewDriver(browser)
    try:
        view.set(workspace_id=team_workspace)
        view.wait()

        connected = view.request(
            "connect_registry", name="typed in the view", url=mlflow_server.url, token=KNOWN_TOKEN
        )
        assert connected["ok"], connected
        new_id = connected["result"]["registry_id"]
        assert browser.registry_id == new_id and browser.models_loaded > 0

        refused = view.request("connect_registry", name="", url="x", token=KNOWN_TOKEN)
        assert not refused["ok"] and "name and a URL" in refused["error"]
        bad_url = view.request(
            "connect_registry",
            name="bad url",
            url=f"ftp://{KNOWN_TOKEN}@nowhere",
            token=KNOWN_TOKEN,
        )
        assert not bad_url["ok"] and bad_url["error"]
        assert KNOWN_TOKEN not in bad_url["error"]

        dead = view.request(
            "connect_registry",
            name="no mlflow here",
            url=f"{registry_service.url}/no-mlflow-here",
            token=KNOWN_TOKEN,
        )
        assert not dead["ok"] and "no mlflow here" in dead["error"]
        assert browser.error == dead["error"]

        view.set(registry_id=mlflow_registry)
        view.wait()
        view.set(model_name=mlflow_seed.wine_model)
        view.wait()
        view.set(version="2")
        view.wait()
        assert view.request("preview", path="MLmodel")["ok"]
        view.set(upload_name="Not_DNS")
        failed = view.request("upload")
        assert not failed["ok"]
        view.set(upload_name="secret-check")
        assert view.request("upload")["ok"]
        view.set(workspace_id=987_654)
        view.wait()
        assert "not one of yours" in browser.error

        state = json.dumps(browser.get_state(), default=str)
        embedded = json.dumps(embed_data(views=[browser]), default=str)
        outgoing = view.sent_text()
        kept = "\n".join(_strings(browser, set()))
        for secret in (KNOWN_TOKEN, alice.token):
            assert secret not in state
            assert secret not in embedded
            assert secret not in repr(browser)
            assert secret not in outgoing
            assert secret not in browser.error
        assert KNOWN_TOKEN not in kept, "the registry token was kept on the widget"
        assert "token" not in {k for r in browser.registry_options for k in r}
        assert len(view.replies()) >= 7
    finally:
        browser.close()


def test_a_failure_echoing_the_typed_token_is_masked(
    registry_service, alice, team_workspace, monkeypatch
):
    """Were the server to echo the registry token in an error, the panel would still mask it."""
    browser = RegistryBrowser.connect(registry_service.url, token=alice.token, max_retry_seconds=2)
    view = ViewDriver(browser)
    try:
        browser.select_workspace(team_workspace)

        def echoing(name, url, token="", workspace_id=None, kind=None):
            raise UpstreamFailed(
                f"registry {name!r} refused the token {token}",
                status=502,
                call="models/create_registry",
            )

        monkeypatch.setattr(browser.client, "create_registry", echoing)
        answer = view.request(
            "connect_registry", name="echo", url="http://127.0.0.1:9", token=KNOWN_TOKEN
        )
        assert not answer["ok"] and "refused the token ***" in answer["error"]
        assert "refused the token ***" in browser.error
        with pytest.raises(UpstreamFailed):
            browser.connect_registry("echo", "http://127.0.0.1:9", KNOWN_TOKEN)
        assert "refused the token ***" in browser.error
        for shown in (answer["error"], browser.error, view.sent_text()):
            assert KNOWN_TOKEN not in shown
    finally:
        browser.close()


def test_in_a_hub_the_panel_signs_in_with_no_arguments_and_keeps_the_hub_token(
    hub, monkeypatch, caplog
):
    """``RegistryBrowser()`` in a single-user server: the service from WALLAROO_REGISTRY_URL,
    the kernel's JUPYTERHUB_API_TOKEN as the login, which reaches no trait, no saved
    state, no repr and no message to the front-end."""
    hub_token, _ = hub.user_token("bob")
    monkeypatch.setenv("WALLAROO_REGISTRY_URL", hub.service_url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", hub_token)
    monkeypatch.delenv("WALLAROO_REGISTRY_TOKEN", raising=False)
    caplog.set_level(logging.DEBUG)
    browser = RegistryBrowser()
    view = ViewDriver(browser)
    try:
        names = {w["name"] for w in browser.workspace_options}
        assert "bob - Default Workspace" in names
        assert "alice - Default Workspace" not in names
        view.set(workspace_id=browser.workspace_options[0]["id"])
        view.wait()
        state = json.dumps(browser.get_state(), default=str)
        embedded = json.dumps(embed_data(views=[browser]), default=str)
        traits = json.dumps({n: getattr(browser, n) for n in browser.trait_names()}, default=str)
        for shown in (state, embedded, traits, repr(browser), view.sent_text(), browser.error):
            assert hub_token not in shown
        assert hub_token not in caplog.text
    finally:
        browser.close()
