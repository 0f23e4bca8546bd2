"""Timing, CPU accounting and memory sampling shared by the benchmarks.

Wall-clock time on a shared 2-core machine moves with whatever else runs; CPU seconds per
process do not, so every timing also records who burnt the CPU: the service, MLflow, and
the client side (this process plus the children it waited for, such as curl).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
MIB = 1 << 20
SAMPLE_SECONDS = 0.05
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def timed(action: Callable[[], T]) -> tuple[float, T]:
    """Wall-clock seconds of one call, and what it returned."""
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def quantile(values: list[float], fraction: float) -> float:
    """The value ``fraction`` of the way through the sorted values, linear between
    neighbours (numpy's default): p90 is ``quantile(values, 0.9)``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds (user + system) each side spent on one measured action.

    Read from /proc, which counts in clock ticks (10 ms here): single short calls round,
    medians over repeated full listings do not.
    """

    service: float = 0.0
    mlflow: float = 0.0
    client: float = 0.0


@dataclass(frozen=True)
class Sample:
    seconds: float
    cpu: CpuUse


def measured(action: Callable[[], T], service_pid: int, mlflow_pid: int) -> tuple[Sample, T]:
    """Wall-clock seconds and CPU use of one call, and what it returned."""
    before = (cpu_seconds(service_pid), cpu_seconds(mlflow_pid), _own_cpu())
    seconds, result = timed(action)
    after = (cpu_seconds(service_pid), cpu_seconds(mlflow_pid), _own_cpu())
    used = CpuUse(*(end - start for start, end in zip(before, after, strict=True)))
    return Sample(seconds, used), result


def median_cpu(samples: list[Sample]) -> CpuUse:
    return CpuUse(
        median([s.cpu.service for s in samples]),
        median([s.cpu.mlflow for s in samples]),
        median([s.cpu.client for s in samples]),
    )


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its living descendants."""
    total = 0.0
    for current in _tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, ValueError, IndexError):
            continue
    return total


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += _children(current)
    return found


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (0 for a process that is gone)."""
    return sum(_vm_rss(current) for current in _tree(pid))


def _vm_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


@dataclass
class RssSampler:
    """Samples a process tree's RSS every 50 ms in a thread; used as a context manager."""

    pid: int
    interval: float = SAMPLE_SECONDS
    samples: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def peak(self) -> int:
        return max(self.samples, default=0)

    def __enter__(self) -> RssSampler:
        self.samples.append(rss_bytes(self.pid))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.samples.append(rss_bytes(self.pid))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(rss_bytes(self.pid))
