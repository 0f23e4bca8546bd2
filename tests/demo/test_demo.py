"""``wallaroo-registry-ui demo`` as ``make demo`` runs it: everything starts, the notebook's
environment points at a working service, Ctrl-C and SIGTERM stop every process, and a second
run reuses the first one's models and tokens."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from wallaroo_registry_ui.client import RegistryClient
from wallaroo_registry_ui.demo.processes import marked_groups
from wallaroo_registry_ui.demo.single_run import MARK_VARIABLE
from wallaroo_registry_ui.demo.stack import TOKEN_VARIABLE, URL_VARIABLE

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "registry_browser.ipynb"
READY_LINE = "Press Ctrl-C to stop everything."
NOTEBOOK_URL = re.compile(
    r"^\s+(http://127\.0\.0\.1:\d+/lab/tree/registry_browser\.ipynb\?token=\w+)$"
)


def _start_demo(data_dir: Path, output: Path) -> subprocess.Popen:
    with open(output, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "wallaroo_registry_ui.cli", "demo", "--data-dir", str(data_dir),
             "--notebook", str(NOTEBOOK), "--port", "0"],
            stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip


def _wait_ready(process: subprocess.Popen, output: Path, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = output.read_text()
        if READY_LINE in text:
            return text
        if process.poll() is not None:
            pytest.fail(f"the demo exited with {process.returncode}:\n{text}")
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    process.wait(60)
    pytest.fail(f"the demo was not ready in {timeout} s:\n{output.read_text()}")


def _stop(process: subprocess.Popen, sig: signal.Signals, data_dir: Path, output: Path) -> None:
    process.send_signal(sig)
    assert process.wait(90) == 0, output.read_text()
    assert "Stopped." in output.read_text()
    assert marked_groups(MARK_VARIABLE, str(data_dir)) == set(), "processes were left running"


SAVED_OUTPUT = "an output saved by the demo's user"


def _save_with_an_output(notebook_url: str) -> None:
    """Save the open notebook with an output, as JupyterLab does (its contents API)."""
    base, _, token = notebook_url.partition("/lab/tree/")
    name, _, token = token.partition("?token=")
    url = f"{base}/api/contents/{name}"
    headers = {"Authorization": f"token {token}"}
    model = requests.get(url, headers=headers, timeout=30).json()
    cell = next(c for c in model["content"]["cells"] if c["cell_type"] == "code")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": SAVED_OUTPUT}]
    body = {"type": "notebook", "format": "json", "content": model["content"]}
    assert requests.put(url, json=body, headers=headers, timeout=30).status_code == 200


def _jupyter_environment(data_dir: Path) -> dict[str, str]:
    """The environment of the demo's JupyterLab process (what its kernels inherit)."""
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            entries = environ.read_bytes().split(b"\0")
            cmdline = (environ.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"{MARK_VARIABLE}={data_dir}".encode() in entries and any(
            part.endswith(b"jupyter-lab") or part == b"lab" for part in cmdline[:3]
        ):
            return dict(e.decode().split("=", 1) for e in entries if b"=" in e)
    return {}


def test_demo_starts_stops_and_starts_again(tmp_path):
    data_dir = (tmp_path / "demo").resolve()
    tracked = NOTEBOOK.read_bytes()
    first_output = tmp_path / "first.txt"
    process = _start_demo(data_dir, first_output)
    try:
        text = _wait_ready(process, first_output)
        urls = [m.group(1) for line in text.splitlines() if (m := NOTEBOOK_URL.match(line))]
        assert len(urls) == 1, text
        assert requests.get(urls[0], timeout=30).status_code == 200
        _save_with_an_output(urls[0])
        assert NOTEBOOK.read_bytes() == tracked, "saving in the demo changed the tracked notebook"
        copy = data_dir / "notebooks" / NOTEBOOK.name
        assert SAVED_OUTPUT in copy.read_text()
        jupyter_log = (data_dir / "jupyter" / "jupyter-lab.log").read_text()
        assert "Node.js v" not in jupyter_log and "at file://" not in jupyter_log, jupyter_log[
            :2000
        ]

        environment = _jupyter_environment(data_dir)
        assert {URL_VARIABLE, TOKEN_VARIABLE} <= environment.keys()
        with RegistryClient(environment[URL_VARIABLE], token=environment[TOKEN_VARIABLE]) as client:
            (workspace,) = client.list_workspaces()
            (registry,) = client.list_registries(workspace.id)
            models = client.registry_models_frame(registry.id)
            assert {"wine_quality", "iris_species", "diabetes_progression"} <= set(models.name)
            versions = client.model_versions_frame(registry.id, "iris_species")
            assert len(versions) == 3
            assert set(versions.current_stage) == {"Archived", "Staging", "Production"}
    finally:
        if process.poll() is None:
            _stop(process, signal.SIGINT, data_dir, first_output)
    assert "first run only" in first_output.read_text()

    second_output = tmp_path / "second.txt"
    process = _start_demo(data_dir, second_output)
    try:
        text = _wait_ready(process, second_output)
        assert "first run only" not in text
        assert SAVED_OUTPUT in copy.read_text(), "a second run threw the user's copy away"
        assert urls[0].split("token=")[1] in text, "the Jupyter token is kept between runs"
        environment = _jupyter_environment(data_dir)
        with RegistryClient(environment[URL_VARIABLE], token=environment[TOKEN_VARIABLE]) as client:
            (workspace,) = client.list_workspaces()
            (registry,) = client.list_registries(workspace.id)
            assert "wine_quality" in set(client.registry_models_frame(registry.id).name)
    finally:
        if process.poll() is None:
            _stop(process, signal.SIGTERM, data_dir, second_output)
