"""The plain registry token appears in no response, no log line and not in the database; the
key that encrypts it sits in a 0600 file (in a 0700 data dir, or wherever --secret-key-file
says), made once and atomically, and a service that lost it refuses to start."""

from __future__ import annotations

import os
import stat
import subprocess
import threading

import requests
from cryptography.fernet import Fernet
from support.registry_helpers import EmptyMlflow, local_http_server
from support.servers import running

from wallaroo_registry_ui.demo.processes import free_port
from wallaroo_registry_ui.demo.registry_service import (
    CLI,
    LOCAL_REGISTRY_HOSTS,
    start_registry_service,
)
from wallaroo_registry_ui.server.secrets import TokenCipher
from wallaroo_registry_ui.server.settings import (
    SECRET_KEY_FILE_ENV,
    resolve_settings,
    settings_environment,
)

SECRET = "dapi-plain-registry-token-9c41e07d55aa"


def test_registry_token_never_leaves_the_store(
    registry_service, alice, team_workspace, mlflow_server, mlflow_seed
):
    replies: list[requests.Response] = []

    def call(name: str, body: dict) -> requests.Response:
        reply = registry_service.post(alice.token, name, body)
        replies.append(reply)
        return reply

    created = call(
        "models/create_registry",
        {
            "name": "secret test",
            "url": mlflow_server.url,
            "token": SECRET,
            "workspace_id": team_workspace,
        },
    ).json()
    registry_id = created["id"]
    dead = call(
        "models/create_registry",
        {
            "name": "dead registry",
            "url": "http://127.0.0.1:9",
            "token": SECRET,
            "workspace_id": team_workspace,
        },
    ).json()["id"]

    got = call("models/get_registry", {"registry_id": registry_id}).json()
    assert got["token"] and got["token"] != SECRET and "****" in got["token"]
    call("models/list_registries", {"workspace_id": team_workspace})
    models = call("models/list_registry_models", {"registry_id": registry_id, "max_results": 5})
    assert models.status_code == 200
    name, version = mlflow_seed.wine_model, "1"
    call(
        "models/list_registry_model_versions",
        {"registry_id": registry_id, "model_name": name, "extended": True},
    )
    artifacts = call(
        "models/list_registry_model_version_artifacts",
        {"registry_id": registry_id, "name": name, "version": version},
    ).json()
    small = min((a for a in artifacts if not a["is_dir"]), key=lambda a: a["file_size"])

    ok = call(
        "models/upload_from_registry",
        {
            "registry_id": registry_id,
            "name": "secret-test",
            "path": small["full_path"],
            "visibility": "private",
            "workspace_id": team_workspace,
            "conversion": {"framework": "sklearn", "requirements": []},
        },
    )
    assert ok.status_code == 200, ok.text
    failures = [
        call("models/list_registry_models", {"registry_id": dead}),
        call(
            "models/list_registry_model_version_artifacts",
            {"registry_id": registry_id, "name": name, "version": "999"},
        ),
        call(
            "models/upload_from_registry",
            {
                "registry_id": registry_id,
                "name": "secret-test",
                "path": "http://127.0.0.1:9/x",
                "visibility": "private",
                "workspace_id": team_workspace,
                "conversion": {"framework": "sklearn", "requirements": []},
            },
        ),
        call(
            "models/upload_from_registry",
            {
                "registry_id": dead,
                "name": "secret-test",
                "path": "http://127.0.0.1:9/x",
                "visibility": "private",
                "workspace_id": team_workspace,
                "conversion": {"framework": "sklearn", "requirements": []},
            },
        ),
    ]
    assert [f.status_code for f in failures] == [502, 404, 400, 400], [f.text for f in failures]
    assert [f.json()["code"] for f in failures] == [502, 404, 400, 400]

    for reply in replies:
        assert SECRET not in reply.text
        assert SECRET not in str(reply.headers)
    assert SECRET not in registry_service.log_path.read_text(errors="replace")
    for path in registry_service.data_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_key_file_is_private_and_config_needs_no_login(registry_service, alice):
    key_file = registry_service.data_dir / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert alice.client.config()["default_arch"] == "x86"


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _cli(*args: str, umask: int | None = None, env: dict | None = None):
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


def test_the_data_dir_is_made_private_even_with_an_open_umask(tmp_path):
    fresh = tmp_path / "new" / "data"
    done = _cli("user", "add", "umask@example.com", "--data-dir", str(fresh), umask=0)
    assert done.returncode == 0, done.stderr
    assert _mode(fresh) == 0o700

    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    done = _cli("user", "add", "loose@example.com", "--data-dir", str(loose))
    assert done.returncode == 0, done.stderr
    assert _mode(loose) == 0o700
    assert f"the data dir {loose} could be read by other users (mode 755)" in done.stderr


def test_the_key_file_is_made_once_whole_and_0600(tmp_path):
    key_file = tmp_path / "keys" / "registry.key"
    barrier = threading.Barrier(8)
    ciphers: list[TokenCipher] = []
    previous = os.umask(0)
    try:

        def make() -> None:
            barrier.wait()
            ciphers.append(TokenCipher.from_environment(key_file))

        threads = [threading.Thread(target=make) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        os.umask(previous)
    assert len(ciphers) == 8
    sealed = ciphers[0].encrypt("a registry token")
    assert {cipher.decrypt(sealed) for cipher in ciphers} == {"a registry token"}
    assert _mode(key_file) == 0o600 and _mode(key_file.parent) == 0o700
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["registry.key"]

    key_file.chmod(0o644)
    assert TokenCipher.from_environment(key_file).decrypt(sealed) == "a registry token"
    assert _mode(key_file) == 0o600


def test_the_key_file_setting_reaches_worker_processes(tmp_path):
    key = tmp_path / "elsewhere.key"
    settings = resolve_settings(str(tmp_path / "data"), environ={}, secret_key_file=str(key))
    assert settings.key_file == key
    environment = settings_environment(settings)
    assert environment[SECRET_KEY_FILE_ENV] == str(key)
    assert resolve_settings(environ=environment) == settings
    assert resolve_settings(str(tmp_path / "data"), environ={}).key_file == (
        tmp_path / "data" / "secret.key"
    )


class _TokenEcho(EmptyMlflow):
    """An MLflow stand-in answering an empty model list, remembering the Authorization
    headers it was sent."""

    seen: list[str] = []

    def seen_request(self) -> None:
        type(self).seen.append(self.headers.get("Authorization", ""))


def _serve_refused(data_dir, *flags: str, env: dict | None = None) -> str:
    """Start ``serve`` expecting it to refuse; what it printed."""
    done = _cli("serve", "--port", str(free_port()), "--data-dir", str(data_dir), *flags, env=env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    return done.stderr


def test_the_key_can_live_elsewhere_and_a_lost_key_stops_the_start(tmp_path):
    data_dir, key_file = tmp_path / "data", tmp_path / "keys" / "registry.key"
    flag = ["--secret-key-file", str(key_file)]
    with local_http_server(_TokenEcho) as registry_url:
        with running(
            lambda: start_registry_service(
                data_dir, extra_args=flag, allow_registry_hosts=LOCAL_REGISTRY_HOSTS
            )
        ) as service:
            token = service.add_user("keys@example.com")
            client = service.client(token)
            registry = client.create_registry("keyed", registry_url, token=SECRET)
            assert _mode(key_file) == 0o600 and _mode(key_file.parent) == 0o700
            assert not (data_dir / "secret.key").exists()
            added = _cli("user", "add", "keys@example.com", *service.store_flags(), *flag)
            assert added.returncode == 0, added.stderr

        missing = _serve_refused(data_dir)
        assert f"the key file {data_dir / 'secret.key'} does not exist" in missing
        assert "--secret-key-file" in missing and "Traceback" not in missing
        assert not (data_dir / "secret.key").exists()

        other_key = tmp_path / "other.key"
        other_key.write_bytes(Fernet.generate_key())
        wrong = _serve_refused(data_dir, "--secret-key-file", str(other_key))
        assert f"the key file {other_key} does not decrypt the registry tokens" in wrong
        wrong_workers = _serve_refused(
            data_dir, "--workers", "2", env={SECRET_KEY_FILE_ENV: str(other_key)}
        )
        assert "does not decrypt" in wrong_workers

        env = {SECRET_KEY_FILE_ENV: str(key_file)}
        with running(
            lambda: start_registry_service(
                data_dir, env=env, allow_registry_hosts=LOCAL_REGISTRY_HOSTS
            )
        ) as service:
            page = service.client(token).list_registry_models(registry)
            assert page.registered_models == []
        assert _TokenEcho.seen[-1] == f"Bearer {SECRET}"
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert key_file.read_bytes().strip() not in path.read_bytes(), path
