"""Result tables (printed and saved as JSON) and the environment they were measured in."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

Cell = str | int | float | None


@dataclass
class Table:
    """One benchmark's result: rows of named cells, plus notes that say how to read them.

    ``formats`` gives a column's number format (default three decimals).
    """

    title: str
    columns: list[str]
    formats: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, Cell]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def add(self, **cells: Cell) -> None:
        self.rows.append(cells)

    def render(self) -> str:
        shown = [
            [_text(row.get(column), self.formats.get(column, "{:.3f}")) for column in self.columns]
            for row in self.rows
        ]
        widths = [
            max([len(column), *(len(line[i]) for line in shown)])
            for i, column in enumerate(self.columns)
        ]
        numeric = [
            all(
                isinstance(row.get(column), (int, float))
                for row in self.rows
                if row.get(column) is not None
            )
            for column in self.columns
        ]

        def line(cells: list[str]) -> str:
            return "  ".join(
                cell.rjust(width) if right else cell.ljust(width)
                for cell, width, right in zip(cells, widths, numeric, strict=True)
            ).rstrip()

        out = [self.title, line(self.columns), line(["-" * width for width in widths])]
        out += [line(cells) for cells in shown]
        out += [f"  {note}" for note in self.notes]
        return "\n".join(out)


def _text(value: Cell, number_format: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return number_format.format(value)
    return str(value)


def environment() -> dict[str, Any]:
    """What the numbers depend on: CPUs, memory, other load, Python and the packages."""
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "memory_gib": round(_mem_total() / (1 << 30), 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "mlflow": _version("mlflow"),
        "wallaroo-registry-ui": _version("wallaroo-registry-ui"),
        "requests": _version("requests"),
        "uvicorn": _version("uvicorn"),
        "curl": _curl_version(),
    }


def render_environment(env: dict[str, Any]) -> str:
    return "Environment\n" + "\n".join(f"  {key:<22} {value}" for key, value in env.items())


def write_json(
    path: Path, env: dict[str, Any], settings: dict[str, Any], tables: dict[str, Table]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "environment": env,
        "settings": settings,
        "benchmarks": {name: asdict(table) for name, table in tables.items()},
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _curl_version() -> str:
    try:
        done = subprocess.run(["curl", "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    return " ".join(done.stdout.split()[:2])
