"""Error answers become typed errors: the status picks the class, each body shape the server
may send gives a short message, and no token survives into any part of an error."""

from __future__ import annotations

import pickle

import pytest
from support.api_samples import REGISTRY_ID, TOKEN
from support.scripted_api import ScriptedApi

from wallaroo_registry_ui.client import RegistryClient
from wallaroo_registry_ui.client.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    RegistryApiError,
    ServerError,
    Unauthorized,
    UpstreamFailed,
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (502, UpstreamFailed),
        (500, ServerError),
    ],
)
def test_status_maps_to_a_typed_error(
    api: ScriptedApi, client: RegistryClient, status: int, kind: type[RegistryApiError]
) -> None:
    api.respond(
        "/v1/api/models/create_registry", (status, {"msg": "it failed", "code": status}, {})
    )
    with pytest.raises(kind) as caught:
        client.create_registry("r", "http://127.0.0.1:5000")
    err = caught.value
    assert (err.status, err.message, err.code, err.call) == (
        status,
        "it failed",
        status,
        "models/create_registry",
    )
    assert str(err) == f"models/create_registry -> HTTP {status}: it failed"


def test_the_msg_code_shape(api: ScriptedApi, client: RegistryClient) -> None:
    message = "name must be DNS-compliant: try 'wine-quality'"
    api.respond("/v1/api/models/upload_from_registry", (400, {"msg": message, "code": 400}, {}))
    with pytest.raises(BadRequest) as caught:
        client.upload_from_registry(
            REGISTRY_ID, name="wine-quality", path="dbfs:/m", workspace_id=1, framework="sklearn"
        )
    assert str(caught.value) == f"models/upload_from_registry -> HTTP 400: {message}"


def test_the_code_status_error_source_shape(api: ScriptedApi, client: RegistryClient) -> None:
    api.respond(
        "/v1/api/workspaces/create",
        (409, {"code": 409, "status": "Conflict", "error": "name taken", "source": "db"}, {}),
    )
    with pytest.raises(Conflict) as caught:
        client.create_workspace("team-a")
    assert caught.value.message == "name taken (source: db)"
    assert caught.value.code == 409


def test_an_html_error_page_is_described_briefly(api: ScriptedApi, client: RegistryClient) -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body></html>"
    api.respond("/v1/api/workspaces/create", (502, page, {}))
    with pytest.raises(UpstreamFailed) as caught:
        client.create_workspace("team-a")
    message = caught.value.message
    assert "HTML" in message and "502 Bad Gateway" in message
    assert len(message) < 300


def test_the_token_never_appears_in_an_error(api: ScriptedApi) -> None:
    client = RegistryClient(api.base_url, TOKEN)
    echoed = f"token {TOKEN} rejected; header was 'Authorization: Bearer {TOKEN}'"
    api.respond("/v1/api/workspaces/list", (401, {"msg": echoed, "code": TOKEN}, {}))
    with pytest.raises(Unauthorized) as caught:
        client.list_workspaces()
    err = caught.value
    for text in (str(err), repr(err), repr(err.args), err.message, repr(vars(err))):
        assert TOKEN not in text
    assert err.__context__ is None and err.__cause__ is None
    assert TOKEN not in repr(pickle.loads(pickle.dumps(err)))
    assert TOKEN not in repr(client)
    assert repr(client) == f"RegistryClient({api.base_url!r})"
