"""MLflow's model registry REST API, as both connectors read it.

An MLflow server speaks it, and so does a Databricks workspace for its Workspace Model
Registry: the searches, and the contract's shapes made of what they answer, are the same.
"""

from __future__ import annotations

from wallaroo_registry_ui.contract import ModelAliasJson, RegisteredModelJson, TagJson
from wallaroo_registry_ui.server.connectors.base import Page, model_version
from wallaroo_registry_ui.server.connectors.filters import name_filter
from wallaroo_registry_ui.server.connectors.http import RegistryHttp, query_params

MLFLOW_API = "/api/2.0/mlflow"


def search_models(
    http: RegistryHttp,
    *,
    max_results: int,
    page_token: str | None,
    filter: str | None,
    order_by: list[str] | None,
) -> Page[RegisteredModelJson]:
    """One page of registered models, filter and order passed through."""
    body = http.get_json(
        f"{MLFLOW_API}/registered-models/search",
        query_params(
            max_results=max_results, page_token=page_token, filter=filter, order_by=order_by
        ),
    )
    items = [registered_model(raw) for raw in body.get("registered_models") or []]
    return Page(items, body.get("next_page_token") or None)


def search_versions(
    http: RegistryHttp,
    name: str,
    *,
    max_results: int,
    page_token: str | None,
    order_by: list[str] | None = None,
    model_exists: bool = False,
) -> tuple[list[dict], str | None]:
    """One page of the raw versions of model ``name``, and the next page token.

    The filter may match other names too (see ``filters.name_filter``); their rows are
    dropped, which can leave a page short while more pages follow. An empty search says
    nothing of whether the model exists, so unless the caller knows it does, the model is
    looked up: a missing one raises RegistryNotFound instead of showing as a model without
    versions.
    """
    body = http.get_json(
        f"{MLFLOW_API}/model-versions/search",
        query_params(
            filter=name_filter(name),
            max_results=max_results,
            page_token=page_token,
            order_by=order_by,
        ),
    )
    rows = [raw for raw in body.get("model_versions") or [] if raw.get("name") == name]
    next_token = body.get("next_page_token") or None
    if not rows and not page_token and not next_token and not model_exists:
        http.get_json(f"{MLFLOW_API}/registered-models/get", {"name": name})
    return rows, next_token


def registered_model(raw: dict) -> RegisteredModelJson:
    """The contract's RM from MLflow's registered model."""
    latest = raw.get("latest_versions")
    return RegisteredModelJson(
        name=raw.get("name", ""),
        user_id=raw.get("user_id") or "",
        creation_timestamp=raw.get("creation_timestamp"),
        last_updated_timestamp=raw.get("last_updated_timestamp"),
        latest_versions=[model_version(v) for v in latest] if latest else None,
        description=raw.get("description") or "",
        tags=tags(raw.get("tags")),
        aliases=model_aliases(raw.get("aliases")),
    )


def model_aliases(raw: list | None) -> list[ModelAliasJson]:
    """The contract's model aliases from MLflow's ``{alias, version}`` entries."""
    return [
        ModelAliasJson(alias=entry.get("alias", ""), version=str(entry.get("version", "")))
        for entry in raw or []
    ]


def version_aliases(raw: list | None) -> list[str]:
    """The aliases of one version as the contract's strings: MLflow's ModelVersion carries
    them as strings; an ``{alias, version}`` entry, as a registered model carries them, gives
    its ``alias``."""
    aliases = []
    for entry in raw or []:
        if isinstance(entry, dict):
            entry = entry.get("alias")
        if isinstance(entry, str) and entry:
            aliases.append(entry)
    return aliases


def tags(raw: list | None) -> list[TagJson]:
    """The contract's tags from MLflow's, each with exactly ``key`` and ``value``."""
    return [TagJson(key=tag.get("key", ""), value=tag.get("value", "")) for tag in raw or []]
