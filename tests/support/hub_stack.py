"""A real JupyterHub (its configurable-http-proxy from npm) with the registry service as a
hub-managed service, in a temporary directory of its own (a fresh ``jupyterhub.sqlite``,
cookie secret and proxy pid file, so reruns never trip on a stale one).

Users ``alice`` (hub admin) and ``bob``; the groups ``data-team`` (both) and ``bob-club``
(bob); a driver service (a hub admin) whose token issues the users' hub tokens and changes
users and groups over the hub's REST API.
The ``hub`` fixture starts one per test module that asks (``--hub-group-workspaces`` on).
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from support.servers import running
from wallaroo_registry_ui.demo.processes import free_port, start_process, stop_process, wait_http
from wallaroo_registry_ui.demo.registry_service import CLI, LOCAL_REGISTRY_HOSTS

SERVICE_NAME = "wallaroo-registry"
SERVICE_SCOPE = f"access:services!service={SERVICE_NAME}"
DRIVER_NAME = "test-driver"
PROXY = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "configurable-http-proxy"
STARTUP_SECONDS = 60.0
HUB_CACHE_SECONDS = 2.0
"""How long the service trusts the hub's answer about a token, in these tests."""

__all__ = ["hub"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubStack]:
    root = tmp_path_factory.mktemp("hub")
    with running(lambda: start_hub(root, ["--hub-group-workspaces"])) as stack:
        yield stack


@dataclass
class HubStack:
    """The hub's public URL, its API, the service's own URL, the driver's token, the
    service's data and the processes' log."""

    url: str
    api_url: str
    service_url: str
    driver_token: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen

    def api(self, method: str, path: str, **kwargs: object) -> requests.Response:
        """A call to the hub's REST API as the driver service."""
        return requests.request(
            method,
            f"{self.api_url}{path}",
            headers={"Authorization": f"token {self.driver_token}"},
            timeout=10,
            **kwargs,  # type: ignore[arg-type]
        )

    def user_token(self, name: str, scopes: list[str] | None = None) -> tuple[str, str]:
        """A new hub token of ``name`` (with the service's scope unless ``scopes`` says
        otherwise): the token and its id, for revoking it."""
        body = {"note": "registry tests", "scopes": [SERVICE_SCOPE] if scopes is None else scopes}
        answer = self.api("POST", f"/users/{name}/tokens", json=body)
        answer.raise_for_status()
        made = answer.json()
        return made["token"], made["id"]

    def revoke(self, name: str, token_id: str) -> None:
        self.api("DELETE", f"/users/{name}/tokens/{token_id}").raise_for_status()

    def stop(self) -> None:
        stop_process(self.process)


def hub_config(
    root: Path, ports: dict[str, int], driver_token: str, service_args: list[str]
) -> str:
    """The hub's ``jupyterhub_config.py``."""
    service_command = [
        *CLI, "serve", "--port", str(ports["service"]), "--data-dir", str(root / "registry"),
        *[flag for host in LOCAL_REGISTRY_HOSTS for flag in ("--allow-registry-host", host)],
        *service_args,
    ]  # fmt: skip
    settings = {
        "JupyterHub.ip": "127.0.0.1",
        "JupyterHub.port": ports["proxy"],
        "JupyterHub.hub_ip": "127.0.0.1",
        "JupyterHub.hub_port": ports["hub"],
        "JupyterHub.db_url": f"sqlite:///{root / 'jupyterhub.sqlite'}",
        "JupyterHub.cookie_secret_file": str(root / "jupyterhub_cookie_secret"),
        "JupyterHub.authenticator_class": "dummy",
        "JupyterHub.spawner_class": "simple",
        "Authenticator.admin_users": ["alice"],
        "Authenticator.allowed_users": ["alice", "bob"],
        "ConfigurableHTTPProxy.command": [str(PROXY)],
        "ConfigurableHTTPProxy.api_url": f"http://127.0.0.1:{ports['proxy_api']}",
        "ConfigurableHTTPProxy.pid_file": str(root / "proxy.pid"),
        "JupyterHub.load_groups": {
            "data-team": {"users": ["alice", "bob"]},
            "bob-club": {"users": ["bob"]},
        },
        "JupyterHub.services": [
            {
                "name": SERVICE_NAME,
                "url": f"http://127.0.0.1:{ports['service']}",
                "command": service_command,
                "oauth_no_confirm": True,
                "display": False,
                "environment": {"WALLAROO_REGISTRY_HUB_CACHE_SECONDS": str(HUB_CACHE_SECONDS)},
            },
            {"name": DRIVER_NAME, "api_token": driver_token},
        ],
        "JupyterHub.load_roles": [
            {"name": "user", "scopes": ["self", SERVICE_SCOPE]},
            {"name": "admin", "users": ["alice"], "services": [DRIVER_NAME]},
            {
                "name": DRIVER_NAME,
                "scopes": ["admin:users", "admin:groups", "tokens", "list:users"],
                "services": [DRIVER_NAME],
            },
        ],
    }
    lines = [f"c.{key} = {value!r}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def start_hub(root: Path, service_args: list[str] = ()) -> HubStack:  # type: ignore[assignment]
    """Start the hub (which starts its proxy and the registry service) and wait for both."""
    if not PROXY.exists():
        raise RuntimeError(f"{PROXY} is missing: run 'npm install' in the checkout")
    root.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in ("proxy", "proxy_api", "hub", "service")}
    driver_token = secrets.token_hex(24)
    config = root / "jupyterhub_config.py"
    config.write_text(hub_config(root, ports, driver_token, list(service_args)))
    log_path = root / "hub.log"
    process = start_process(
        [sys.executable, "-m", "jupyterhub", "-f", str(config)], log_path, cwd=root
    )
    api_url = f"http://127.0.0.1:{ports['hub']}/hub/api"
    service_url = f"http://127.0.0.1:{ports['service']}"
    wait_http(f"{api_url}/", process, log_path, timeout=STARTUP_SECONDS)
    wait_http(f"{service_url}/v1/api/config", process, log_path, timeout=STARTUP_SECONDS)
    return HubStack(
        url=f"http://127.0.0.1:{ports['proxy']}",
        api_url=api_url,
        service_url=service_url,
        driver_token=driver_token,
        data_dir=root / "registry",
        log_path=log_path,
        process=process,
    )
