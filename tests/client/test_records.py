"""Records read leniently: fields the server leaves out get defaults, and MLflow's
list-of-pairs tags and aliases become dicts."""

from __future__ import annotations

from support.api_samples import REGISTRY_ID, VERSION
from support.scripted_api import ScriptedApi, ok

from wallaroo_registry_ui.client import RegistryClient
from wallaroo_registry_ui.client.records import RegisteredModel


def test_registered_model_fields_default_when_left_out(
    api: ScriptedApi, client: RegistryClient
) -> None:
    api.respond(
        "/v1/api/models/list_registry_models",
        ok(
            {
                "registered_models": [
                    {"name": "bare"},
                    {
                        "name": "full",
                        "user_id": "u",
                        "latest_versions": [VERSION],
                        "description": "d",
                        "tags": [{"key": "k", "value": "v"}],
                        "aliases": [{"alias": "champion", "version": "2"}],
                    },
                ]
            }
        ),
    )
    page = client.list_registry_models(REGISTRY_ID)
    assert api.received[0].body == {"registry_id": REGISTRY_ID}
    bare, full = page.registered_models
    assert bare == RegisteredModel(name="bare")
    assert bare.latest_versions is None and bare.tags == {} and bare.aliases == {}
    assert full.tags == {"k": "v"}
    assert full.aliases == {"champion": "2"}
    assert full.latest_versions[0].version == "2"
    assert page.next_page_token is None
