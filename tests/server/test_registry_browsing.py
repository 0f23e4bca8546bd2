"""Listing a real MLflow registry through the service, checked against what MLflow reports."""

from __future__ import annotations

import hashlib
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from support.registry_helpers import mlflow_model_names

from wallaroo_registry_ui.client.errors import BadRequest, NotFound

MV_KEYS = {
    "name",
    "version",
    "description",
    "status",
    "run_id",
    "run_link",
    "source",
    "current_stage",
    "creation_timestamp",
    "last_updated_timestamp",
}


def test_every_model_across_pages_without_loss_or_repeat(alice, mlflow_registry, mlflow_seed):
    expected = mlflow_model_names(mlflow_seed.url)
    assert len(expected) > 250
    pages, token, names = 0, None, []
    while True:
        page = alice.client.list_registry_models(mlflow_registry, page_token=token, max_results=37)
        assert len(page.registered_models) <= 37
        names += [m.name for m in page.registered_models]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == -(-len(expected) // 37)
    assert names == expected
    assert [m.name for m in alice.client.iter_registry_models(mlflow_registry)] == expected
    frame = alice.client.registry_models_frame(mlflow_registry)
    assert list(frame["name"]) == expected


def test_page_size_default_and_cap(alice, mlflow_registry, mlflow_seed):
    default = alice.client.list_registry_models(mlflow_registry)
    assert len(default.registered_models) == 100
    capped = alice.client.list_registry_models(mlflow_registry, max_results=5000)
    assert len(capped.registered_models) == len(mlflow_model_names(mlflow_seed.url))
    assert capped.next_page_token is None


def test_filter_and_order_by_pass_through(alice, mlflow_registry, mlflow_seed):
    query = {"filter_string": "name LIKE 'bulk-model-00%'", "order_by": ["name DESC"]}
    expected = mlflow_model_names(mlflow_seed.url, **query)
    got = alice.client.list_registry_models(
        mlflow_registry,
        filter="name LIKE 'bulk-model-00%'",
        order_by=["name DESC"],
        max_results=1000,
    )
    assert [m.name for m in got.registered_models] == expected
    assert len(expected) == 100
    nothing = alice.client.list_registry_models(mlflow_registry, filter="name = 'no-such-model'")
    assert nothing.registered_models == [] and nothing.next_page_token is None


def test_registered_model_fields(alice, mlflow_registry, mlflow_seed):
    by_name = {m.name: m for m in alice.client.iter_registry_models(mlflow_registry)}
    wine = by_name[mlflow_seed.wine_model]
    truth = MlflowClient(tracking_uri=mlflow_seed.url).get_registered_model(mlflow_seed.wine_model)
    assert wine.description == truth.description
    assert wine.aliases == mlflow_seed.wine_aliases
    assert wine.tags == truth.tags
    assert wine.last_updated_timestamp == truth.last_updated_timestamp
    assert {v.version: v.current_stage for v in wine.latest_versions} == mlflow_seed.wine_stages
    assert by_name[mlflow_seed.empty_model].latest_versions in (None, [])
    assert by_name[mlflow_seed.html_model].description == mlflow_seed.html_description


def test_versions_plain_and_extended(registry_service, alice, mlflow_registry, mlflow_seed):
    raw = registry_service.post(
        alice.token,
        "models/list_registry_model_versions",
        {"registry_id": mlflow_registry, "model_name": mlflow_seed.wine_model},
    ).json()
    assert [set(v) for v in raw["model_versions"]] == [MV_KEYS, MV_KEYS]
    versions = alice.client.list_model_versions(mlflow_registry, mlflow_seed.wine_model)
    truth = {
        v.version: v
        for v in MlflowClient(tracking_uri=mlflow_seed.url).search_model_versions(
            f"name='{mlflow_seed.wine_model}'"
        )
    }
    assert sorted(v.version for v in versions.model_versions) == sorted(truth)
    for version in versions.model_versions:
        assert version.current_stage == mlflow_seed.wine_stages[version.version]
        assert version.source == truth[version.version].source
        assert version.run_id == truth[version.version].run_id
        assert version.tags == truth[version.version].tags
    aliases = {v.version: v.aliases for v in versions.model_versions}
    assert aliases == {"1": ["challenger"], "2": ["champion"]}


@pytest.mark.parametrize(
    "attr", ["html_model", "quote_model", "quote_decoy_model", "unicode_model"]
)
def test_versions_of_odd_names(alice, mlflow_registry, mlflow_seed, attr):
    name = getattr(mlflow_seed, attr)
    versions = alice.client.list_model_versions(mlflow_registry, name).model_versions
    assert [v.name for v in versions] == [name]


def test_versions_of_model_without_versions(alice, mlflow_registry, mlflow_seed):
    page = alice.client.list_model_versions(mlflow_registry, mlflow_seed.empty_model)
    assert page.model_versions == [] and page.next_page_token is None


def _downloaded_tree(url: str, name: str, version: str, target: Path) -> dict[str, Path]:
    mlflow.set_tracking_uri(url)
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{version}", dst_path=target))
    tree = {p.relative_to(local).as_posix(): p for p in local.rglob("*")}
    tree.pop("registered_model_meta", None)  # written by the MLflow client, not served
    return tree


@pytest.mark.parametrize("which", ["wine", "nested", "run_source"])
def test_artifacts_match_what_mlflow_serves(alice, mlflow_registry, mlflow_seed, tmp_path, which):
    name, version = {
        "wine": (mlflow_seed.wine_model, "2"),
        "nested": (mlflow_seed.nested_model, mlflow_seed.nested_version),
        "run_source": (mlflow_seed.run_source_model, mlflow_seed.run_source_version),
    }[which]
    truth = _downloaded_tree(mlflow_seed.url, name, version, tmp_path)
    artifacts = alice.client.list_artifacts(mlflow_registry, name, version)
    listed = {a.relative_path: a for a in artifacts}
    assert set(listed) == set(truth)
    for rel, artifact in listed.items():
        assert artifact.path == "/" + rel
        assert artifact.is_dir == truth[rel].is_dir()
        if not artifact.is_dir:
            assert artifact.file_size == truth[rel].stat().st_size, rel
    if which == "nested":
        assert listed["weights/layer2/deep"].is_dir
        assert listed[mlflow_seed.large_file.relative_path].file_size == mlflow_seed.large_file.size
    small = [a for a in artifacts if not a.is_dir and a.file_size < 100_000]
    for artifact in small:
        body = requests.get(artifact.full_path, timeout=60).content
        expected = truth[artifact.relative_path].read_bytes()
        assert hashlib.sha256(body).digest() == hashlib.sha256(expected).digest()


def test_artifacts_of_unknown_version_are_404(alice, mlflow_registry, mlflow_seed):
    with pytest.raises(NotFound) as caught:
        alice.client.list_artifacts(mlflow_registry, mlflow_seed.wine_model, "999")
    assert "local mlflow" in str(caught.value)


def test_preview_of_small_text_files(alice, mlflow_registry, mlflow_seed, tmp_path):
    truth = _downloaded_tree(mlflow_seed.url, mlflow_seed.wine_model, "2", tmp_path)
    for rel in ("MLmodel", "requirements.txt"):
        preview = alice.client.preview_artifact(mlflow_registry, mlflow_seed.wine_model, "2", rel)
        assert preview.text == truth[rel].read_text()
        assert not preview.truncated and not preview.binary
        assert preview.size == truth[rel].stat().st_size
    big = alice.client.preview_artifact(
        mlflow_registry,
        mlflow_seed.large_file.model_name,
        mlflow_seed.large_file.version,
        mlflow_seed.large_file.relative_path,
    )
    assert big.truncated and big.size == mlflow_seed.large_file.size
    with pytest.raises(NotFound):
        alice.client.preview_artifact(mlflow_registry, mlflow_seed.wine_model, "2", "nope.txt")


def test_a_query_the_registry_refuses_is_a_400_naming_the_field(alice, mlflow_registry):
    with pytest.raises(BadRequest) as caught:
        alice.client.list_registry_models(mlflow_registry, order_by=["colour DESC"])
    assert caught.value.message.startswith("order_by")
    with pytest.raises(BadRequest) as caught:
        alice.client.list_registry_models(mlflow_registry, filter="name === 'x'")
    assert caught.value.message.startswith("filter")
