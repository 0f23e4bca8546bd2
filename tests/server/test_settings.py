"""The limits' settings: sizes in the forms people write them, every value from the flag or its
environment variable, handed to worker processes unchanged, and a bad value refused naming
where it came from."""

from __future__ import annotations

import pytest

from wallaroo_registry_ui.cli import main
from wallaroo_registry_ui.server.settings import (
    Limits,
    parse_size,
    resolve_settings,
    settings_environment,
)

GIB = 1 << 30


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("20GiB", 20 * GIB),
        ("20 GiB", 20 * GIB),
        ("500MB", 500_000_000),
        ("500mb", 500_000_000),
        ("1.5G", int(1.5 * GIB)),
        ("64KiB", 65536),
        ("1048576", 1048576),
        ("2TiB", 2 << 40),
    ],
)
def test_sizes_read_as_people_write_them(text, size):
    assert parse_size(text, "--max-upload-size") == size


@pytest.mark.parametrize("text", ["", "big", "-1GiB", "1.2.3G", "10 XB"])
def test_a_size_that_is_not_one_is_refused_naming_the_flag(text):
    with pytest.raises(ValueError, match=r"^--max-upload-size: .* is not a size"):
        parse_size(text, "--max-upload-size")


def test_limits_come_from_the_environment_and_go_to_workers(tmp_path):
    env = {
        "WALLAROO_REGISTRY_MAX_UPLOAD_SIZE": "1GiB",
        "WALLAROO_REGISTRY_LISTING_DEADLINE_SECONDS": "12.5",
        "WALLAROO_REGISTRY_PREVIEW_DEADLINE_SECONDS": "7",
        "WALLAROO_REGISTRY_CALLS_PER_USER": "2",
        "WALLAROO_REGISTRY_MAX_REGISTRY_CALLS": "8",
        "WALLAROO_REGISTRY_ARTIFACTS_DIR": str(tmp_path / "elsewhere"),
    }
    resolved = resolve_settings(str(tmp_path / "data"), environ=env)
    assert resolved.limits == Limits(GIB, 12.5, 7.0, 2, 8)
    assert resolved.artifacts_dir == tmp_path / "elsewhere"
    assert resolve_settings(environ=settings_environment(resolved)) == resolved
    flagged = resolve_settings(str(tmp_path / "data"), environ=env, max_upload_size="500MB")
    assert flagged.limits.max_upload_size == 500_000_000


def test_defaults(tmp_path):
    settings = resolve_settings(str(tmp_path), environ={})
    assert settings.limits == Limits(20 * GIB, 60.0, 30.0, 4, 24)
    assert settings.artifacts_dir == tmp_path.resolve() / "artifacts"


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("WALLAROO_REGISTRY_MAX_UPLOAD_SIZE", "0", "must be at least 1 byte"),
        ("WALLAROO_REGISTRY_MAX_UPLOAD_SIZE", "lots", "is not a size"),
        ("WALLAROO_REGISTRY_LISTING_DEADLINE_SECONDS", "0", "must be a positive number"),
        ("WALLAROO_REGISTRY_CALLS_PER_USER", "0", "must be at least 1"),
        ("WALLAROO_REGISTRY_MAX_REGISTRY_CALLS", "100", "must be between 1 and 32"),
    ],
)
def test_a_bad_limit_is_refused_naming_its_variable(tmp_path, name, value, problem):
    with pytest.raises(ValueError, match=problem) as refused:
        resolve_settings(str(tmp_path), environ={name: value})
    assert name in str(refused.value)


def test_serve_refuses_a_bad_max_upload_size_before_starting(tmp_path, capsys):
    code = main(["serve", "--data-dir", str(tmp_path), "--max-upload-size", "huge"])
    assert code == 2
    assert "error: --max-upload-size: 'huge' is not a size" in capsys.readouterr().err


HUB_ENV = {
    "JUPYTERHUB_SERVICE_NAME": "wallaroo-registry",
    "JUPYTERHUB_API_TOKEN": "the-service-own-hub-token",
    "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api/",
}


def test_hub_sign_in_is_on_when_the_hub_starts_the_service(tmp_path):
    settings = resolve_settings(str(tmp_path), environ=HUB_ENV)
    assert settings.hub is not None
    assert settings.hub.api_url == "http://127.0.0.1:8081/hub/api"
    assert settings.hub.scope == "access:services!service=wallaroo-registry"
    assert settings.hub.cache_seconds == 60.0 and not settings.hub.group_workspaces
    environment = settings_environment(settings)
    assert "the-service-own-hub-token" not in environment.values()
    assert resolve_settings(environ=environment) == settings
    assert resolve_settings(str(tmp_path), environ={}).hub is None


def test_hub_sign_in_asked_for_needs_the_hub_api_and_a_short_cache(tmp_path):
    with pytest.raises(ValueError, match="JUPYTERHUB_API_URL"):
        resolve_settings(str(tmp_path), environ={}, jupyterhub=True)
    env = {**HUB_ENV, "WALLAROO_REGISTRY_HUB_CACHE_SECONDS": "61"}
    with pytest.raises(ValueError, match="at most 60 seconds"):
        resolve_settings(str(tmp_path), environ=env)
    grouped = resolve_settings(str(tmp_path), environ=HUB_ENV, hub_group_workspaces=True)
    assert grouped.hub is not None and grouped.hub.group_workspaces
