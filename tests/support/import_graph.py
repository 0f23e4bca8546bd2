"""The package's own import graph, read from the source with ``ast`` (nothing is imported).

Every ``import`` and ``from ... import`` counts wherever it stands: at the top, inside a
function, under ``if TYPE_CHECKING:``. An edge goes to the module the statement names; in
``from M import n`` it goes to ``M.n`` when that is a module of the package, else to ``M``. An
import of the package itself (``import pkg``, ``from pkg import name``) is an edge to the
package's ``__init__``. Parent packages that Python imports along the way are not edges, so a
package ``__init__`` that re-exports its own submodules is not a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class ImportEdge:
    """One import statement of a package module that names another module of the package."""

    source: str
    target: str
    path: Path
    line: int
    statement: str

    def where(self) -> str:
        return f"{self.path}:{self.line}: {self.statement}"


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a directory under ``root``) by its dotted name."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _base_of_relative(module: str, is_package: bool, level: int) -> str:
    """The package a ``from .``/``from ..`` import in ``module`` is relative to."""
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    if level - 1 > len(parts) - 1:
        raise ValueError(f"{module}: relative import beyond the top-level package")
    return ".".join(parts[: len(parts) - (level - 1)])


def _statement_text(source: str, node: ast.stmt) -> str:
    segment = ast.get_source_segment(source, node) or ""
    return " ".join(segment.split())


def imports_of(module: str, path: Path, package: str, modules: Iterable[str]) -> list[ImportEdge]:
    """The imports in one module's source that name modules of ``package``."""
    known = set(modules)
    source = path.read_text()
    tree = ast.parse(source, filename=str(path))
    is_package = path.name == "__init__.py"
    edges = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _base_of_relative(module, is_package, node.level)
                named = f"{base}.{node.module}" if node.module else base
            else:
                named = node.module or ""
            for alias in node.names:
                submodule = f"{named}.{alias.name}"
                targets.append(submodule if submodule in known else named)
        else:
            continue
        text = _statement_text(source, node)
        for target in dict.fromkeys(targets):
            if _in_package(target, package):
                edges.append(ImportEdge(module, target, path, node.lineno, text))
    return edges


def package_imports(root: Path, package: str) -> list[ImportEdge]:
    """Every import between modules of ``package``, in file and line order, each with its file
    path relative to ``root``."""
    modules = module_files(root, package)
    edges = []
    for module, path in modules.items():
        for edge in imports_of(module, path, package, modules):
            edges.append(replace(edge, path=path.relative_to(root)))
    return edges


def find_cycles(graph: Mapping[str, Iterable[str]], limit: int = 100) -> list[list[str]]:
    """Every elementary cycle of ``graph`` (up to ``limit``), each as a path that starts and ends
    at its smallest node, e.g. ``["a", "b", "a"]``; a self-import is ``["a", "a"]``."""
    successors = {node: sorted(set(targets)) for node, targets in graph.items()}
    for targets in list(successors.values()):
        for target in targets:
            successors.setdefault(target, [])
    cycles: list[list[str]] = []
    for start in sorted(successors):
        # Only nodes after ``start`` may appear inside the path: each cycle is found once,
        # from its smallest node.
        stack = [(start, iter(successors[start]))]
        path = [start]
        on_path = {start}
        while stack and len(cycles) < limit:
            _, pending = stack[-1]
            step = next(pending, None)
            if step is None:
                stack.pop()
                on_path.discard(path.pop())
            elif step == start:
                cycles.append([*path, start])
            elif step > start and step not in on_path:
                stack.append((step, iter(successors[step])))
                path.append(step)
                on_path.add(step)
    return cycles
