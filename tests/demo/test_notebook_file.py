"""The notebook a new user opens first, as committed: clean, secret-free, and reading the
service's address and token from the environment ``make demo`` sets."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from wallaroo_registry_ui.demo.demo_state import DemoLayout
from wallaroo_registry_ui.demo.stack import TOKEN_VARIABLE, URL_VARIABLE

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "registry_browser.ipynb"


def _notebook() -> dict:
    return json.loads(NOTEBOOK.read_text())


def test_saved_without_outputs():
    code = [cell for cell in _notebook()["cells"] if cell["cell_type"] == "code"]
    assert code
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None
    assert "widgets" not in _notebook()["metadata"]


def test_no_token_in_it():
    text = NOTEBOOK.read_text()
    assert not re.search(r"wru_[A-Za-z0-9_-]{10,}", text)
    assert "token=" not in text.replace("token=os.environ", "")


def test_connects_through_the_environment():
    sources = ["".join(cell["source"]) for cell in _notebook()["cells"]]
    first_code = next(
        src for src, cell in zip(sources, _notebook()["cells"], strict=True)
        if cell["cell_type"] == "code"
    )  # fmt: skip
    assert "from wallaroo_registry_ui import RegistryBrowser" in first_code
    assert f'os.environ["{URL_VARIABLE}"]' in first_code
    assert f'token=os.environ["{TOKEN_VARIABLE}"]' in first_code
    assert first_code.rstrip().endswith("browser")


def test_a_newer_tracked_notebook_replaces_the_demo_copy_and_keeps_the_old(tmp_path):
    tracked = tmp_path / "repo" / "registry_browser.ipynb"
    tracked.parent.mkdir()
    tracked.write_text('{"cells": [], "v": 1}')
    layout = DemoLayout(tmp_path / "demo")
    copy = layout.working_copy(tracked)
    assert copy.parent == layout.notebooks_dir and copy.read_text() == tracked.read_text()

    copy.write_text('{"cells": [], "v": "mine"}')
    assert layout.working_copy(tracked).read_text() == '{"cells": [], "v": "mine"}'

    tracked.write_text('{"cells": [], "v": 2}')
    later = copy.stat().st_mtime + 5
    os.utime(tracked, (later, later))
    assert layout.working_copy(tracked).read_text() == '{"cells": [], "v": 2}'
    previous = layout.notebooks_dir / "registry_browser.previous.ipynb"
    assert previous.read_text() == '{"cells": [], "v": "mine"}'


def test_make_demo_installs_the_demo_extra_only():
    planned = subprocess.run(
        ["make", "-n", "-B", "demo"], cwd=NOTEBOOK.parents[1], capture_output=True, text=True
    )
    assert planned.returncode == 0, planned.stderr
    installs = [
        line for line in planned.stdout.splitlines() if "pip install" in line and "-e" in line
    ]
    assert installs and all("'.[demo]'" in line for line in installs), planned.stdout
