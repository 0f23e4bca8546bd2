"""The house rules of the package's imports.

The service, the client and the panel share one package but not their dependencies: the
service must start without pandas or the widget stack, the client without the service stack,
and the client loads pandas only when a DataFrame is asked for. The runtime rules import in a
fresh interpreter, so nothing this test process already loaded can hide a heavy import. The
static rules read every module's source, so an import in a function or under TYPE_CHECKING
breaks a layer rule as surely as one at the top.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.import_graph import ImportEdge, find_cycles, imports_of, package_imports

PACKAGE = "wallaroo_registry_ui"
TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

SERVICE_STACK = ("fastapi", "sqlalchemy", "mlflow", "uvicorn")
DATA_STACK = ("pandas", "pyarrow")
WIDGET_STACK = ("anywidget",)

_IMPORT_TIME = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| (?P<indent>\s*)(?P<name>\S+)$")


@dataclass(frozen=True)
class Probe:
    """What a fresh interpreter had loaded after running some code, and how it got there."""

    modules: frozenset[str]
    import_times: str

    def loaded(self, names: tuple[str, ...]) -> list[str]:
        """The given modules (or any of their submodules) that were loaded."""
        return [
            name
            for name in names
            if any(m == name or m.startswith(name + ".") for m in self.modules)
        ]

    def chain_to(self, name: str) -> str:
        """The import chain that first reached ``name``, outermost first (from -X importtime,
        which lists each module after the ones it imported, indented by depth)."""
        lines = [_IMPORT_TIME.match(line) for line in self.import_times.splitlines()]
        entries = [(len(m.group("indent")), m.group("name")) for m in lines if m]
        for index, (depth, module) in enumerate(entries):
            if module != name:
                continue
            chain = [module]
            for outer_depth, outer in entries[index + 1 :]:
                if outer_depth < depth:
                    chain.append(outer)
                    depth = outer_depth
            return " <- ".join(chain)
        return f"{name} (no import chain recorded)"

    def explain(self, names: list[str]) -> str:
        return "; ".join(self.chain_to(name) for name in names)


def probe(code: str) -> Probe:
    """Run ``code`` in a fresh interpreter of this environment and report what it loaded."""
    script = (
        textwrap.dedent(code)
        + "\nimport json as _j, sys as _s\nprint(_j.dumps(sorted(_s.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env=env,
    )
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if not _IMPORT_TIME.match(line)]
        pytest.fail(f"the probe failed:\n{code}\n" + "\n".join(errors[-40:]))
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    return Probe(frozenset(modules), done.stderr)


# ---- what an import loads ----------------------------------------------------------------------


def test_the_service_loads_neither_the_data_nor_the_widget_stack() -> None:
    found = probe("import wallaroo_registry_ui.server.app")
    own = (f"{PACKAGE}.client", f"{PACKAGE}.panel")
    heavy = found.loaded(DATA_STACK + WIDGET_STACK + own)
    assert not heavy, f"importing the service loaded {heavy}: {found.explain(heavy)}"


def test_the_package_itself_loads_no_dependency() -> None:
    found = probe("import wallaroo_registry_ui")
    heavy = found.loaded(SERVICE_STACK + DATA_STACK + WIDGET_STACK)
    assert not heavy, f"`import wallaroo_registry_ui` loaded {heavy}: {found.explain(heavy)}"


def test_importing_the_client_leaves_the_server_stack_alone() -> None:
    found = probe("import wallaroo_registry_ui.client")
    heavy = found.loaded(SERVICE_STACK)
    assert not heavy, f"importing the client loaded {heavy}: {found.explain(heavy)}"


def test_the_client_loads_pandas_only_for_a_frame() -> None:
    """Before a frame is asked for, no pandas; after one ``*_frame`` call, pandas: the laziness
    is real and not merely an import that never happens."""
    found = probe(
        """
        import sys
        from wallaroo_registry_ui import RegistryClient

        early = [m for m in ("pandas", "pyarrow") if m in sys.modules]
        assert not early, f"loaded before any frame: {early}"

        from support.scripted_api import ok, serving_scripted_api

        with serving_scripted_api() as api:
            api.respond("/v1/api/workspaces/list", ok({"workspaces": []}))
            with RegistryClient(api.base_url, "tok") as client:
                assert client.list_workspaces() == []
                still = [m for m in ("pandas", "pyarrow") if m in sys.modules]
                assert not still, f"loaded by a call that returns records: {still}"
                frame = client.workspaces_frame()
        assert "pandas" in sys.modules
        assert frame.empty and "name" in frame.columns
        """
    )
    assert "pandas" in found.modules


def test_import_stays_light() -> None:
    found = probe(
        """
        import wallaroo_registry_ui as w
        from wallaroo_registry_ui import RegistryBrowser
        """
    )
    heavy = found.loaded(SERVICE_STACK)
    assert not heavy, f"the panel loaded {heavy}: {found.explain(heavy)}"


def test_every_public_name_resolves() -> None:
    found = probe(
        """
        import wallaroo_registry_ui as w
        from wallaroo_registry_ui import RegistryBrowser

        assert RegistryBrowser.__module__ == "wallaroo_registry_ui.panel.widget"
        for name in w.__all__:
            assert getattr(w, name) is not None, name
        assert set(w.__all__) <= set(dir(w))
        try:
            w.no_such_name
        except AttributeError:
            pass
        else:
            raise AssertionError("an unknown name resolved")
        """
    )
    assert "anywidget" in found.modules


# ---- layers ------------------------------------------------------------------------------------

# Each layer (a module or a subpackage) and the parts of the package it must not import.
FORBIDDEN = {
    f"{PACKAGE}.client": (f"{PACKAGE}.panel", f"{PACKAGE}.server", f"{PACKAGE}.demo"),
    f"{PACKAGE}.server": (f"{PACKAGE}.client", f"{PACKAGE}.panel", f"{PACKAGE}.demo"),
    f"{PACKAGE}.panel": (f"{PACKAGE}.server",),
    f"{PACKAGE}.contract": (PACKAGE,),
}


def _within(name: str, part: str) -> bool:
    return name == part or name.startswith(part + ".")


def layer_violations(edges: list[ImportEdge], forbidden: dict[str, tuple[str, ...]]) -> list[str]:
    """One line per import that crosses a forbidden line, naming the module and the statement."""
    found = []
    for edge in edges:
        for layer, banned in forbidden.items():
            if not _within(edge.source, layer):
                continue
            for part in banned:
                if _within(edge.target, part):
                    found.append(
                        f"{edge.source} imports {edge.target} ({layer} must not import {part}) "
                        f"at {edge.where()}"
                    )
    return found


def import_graph(edges: list[ImportEdge]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        graph[edge.source].add(edge.target)
    return graph


def describe_cycle(cycle: list[str], edges: list[ImportEdge]) -> str:
    """A cycle as its modules and, for each step, the import statement that makes it."""
    first = {}
    for edge in edges:
        first.setdefault((edge.source, edge.target), edge)
    steps = [first[step].where() for step in itertools.pairwise(cycle)]
    return " -> ".join(cycle) + "\n    " + "\n    ".join(steps)


@pytest.fixture(scope="module")
def edges() -> list[ImportEdge]:
    return package_imports(ROOT, PACKAGE)


def test_the_source_is_read(edges: list[ImportEdge]) -> None:
    """The rules below see real imports, so an empty graph cannot pass them vacuously."""
    sources = {edge.source for edge in edges}
    assert {f"{PACKAGE}.client.transport", f"{PACKAGE}.panel.widget", f"{PACKAGE}"} <= sources
    assert any(
        e.source == f"{PACKAGE}.panel.widget" and e.target == f"{PACKAGE}.client.frames"
        for e in edges
    )


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_what_they_may(edges: list[ImportEdge], layer: str) -> None:
    violations = layer_violations(edges, {layer: FORBIDDEN[layer]})
    assert not violations, "\n".join(violations)


def test_the_package_has_no_import_cycle(edges: list[ImportEdge]) -> None:
    cycles = find_cycles(import_graph(edges))
    assert not cycles, "import cycles:\n" + "\n".join(describe_cycle(c, edges) for c in cycles)


# ---- the rules themselves ----------------------------------------------------------------------


def test_find_cycles_reports_each_cycle_once_with_its_path() -> None:
    graph = {
        "a": {"b"},
        "b": {"c", "d"},
        "c": {"a"},
        "d": {"d"},
        "e": {"a", "f"},
        "f": set(),
    }
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["d", "d"]]
    assert find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a", "b"}}) == [["a", "b", "a"]]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_rules_catch_hidden_and_relative_imports(tmp_path: Path) -> None:
    """A made-up package whose imports hide in a function, under TYPE_CHECKING and behind
    relative dots: each is resolved, each broken rule is named, and the cycle through the
    package __init__ is found."""
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pkg.panel import Browser\n",
            "pkg/contract.py": "from . import _version\n",
            "pkg/_version.py": "",
            "pkg/client/__init__.py": "from .client import Client\n",
            "pkg/client/client.py": "def frame():\n    from ..server import store\n",
            "pkg/server/__init__.py": "",
            "pkg/server/store.py": "import pkg.contract\n",
            "pkg/panel/__init__.py": "from pkg.panel.widget import Browser\n",
            "pkg/panel/widget.py": "from pkg import contract\nimport pkg\n",
        },
    )
    found = package_imports(tmp_path, "pkg")
    pairs = {(e.source, e.target) for e in found}
    assert pairs == {
        ("pkg", "pkg.panel"),
        ("pkg.contract", "pkg._version"),
        ("pkg.client", "pkg.client.client"),
        ("pkg.client.client", "pkg.server.store"),
        ("pkg.server.store", "pkg.contract"),
        ("pkg.panel", "pkg.panel.widget"),
        ("pkg.panel.widget", "pkg.contract"),
        ("pkg.panel.widget", "pkg"),
    }
    forbidden = {
        "pkg.client": ("pkg.server",),
        "pkg.contract": ("pkg",),
    }
    violations = layer_violations(found, forbidden)
    assert len(violations) == 2
    client_rule, contract_rule = sorted(violations)
    assert client_rule.startswith("pkg.client.client imports pkg.server.store")
    assert "client.py:2: from ..server import store" in client_rule
    assert contract_rule.startswith("pkg.contract imports pkg._version")
    assert "contract.py:1: from . import _version" in contract_rule
    cycles = find_cycles(import_graph(found))
    assert cycles == [["pkg", "pkg.panel", "pkg.panel.widget", "pkg"]]
    report = describe_cycle(cycles[0], found)
    assert "widget.py:2: import pkg" in report
    assert "__init__.py:3: from pkg.panel import Browser" in report


def test_a_relative_import_beyond_the_package_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "from ... import x\n"})
    with pytest.raises(ValueError, match="beyond the top-level package"):
        imports_of("pkg.a", tmp_path / "pkg" / "a.py", "pkg", ["pkg", "pkg.a"])


def test_the_chain_names_who_imported_a_module() -> None:
    times = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:        10 |         10 |       numpy",
            "import time:        10 |         20 |     pandas",
            "import time:        10 |         30 |   app.frames",
            "import time:        10 |         40 | app",
        ]
    )
    assert Probe(frozenset(), times).chain_to("pandas") == "pandas <- app.frames <- app"
