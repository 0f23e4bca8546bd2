"""Memory: peak RSS of the service while it uploads a small and a large file.

Each size gets a freshly started service, warmed up by a tiny upload (first-call imports
are not file-size related), so its idle RSS is the baseline and retained memory from an
earlier upload cannot hide growth. Streaming means the increase must not scale with size.
"""

from __future__ import annotations

import time

from benchmarks.context import MIB, Context, progress, size_label
from benchmarks.measure import RssSampler, median, rss_bytes
from benchmarks.report import Table
from benchmarks.seeding import SeededFile
from benchmarks.upload import full_path_of, upload_checked

NAME = "memory"
WARMUP_SIZE = MIB
IDLE_SECONDS = 0.5


def run(ctx: Context) -> Table:
    table = Table(
        "Memory: service RSS (with children) sampled every 50 ms during one upload; "
        "baseline = idle RSS of the warmed-up service",
        ["size", "idle MiB", "peak MiB", "increase MiB", "increase / size", "seconds"],
        formats={"idle MiB": "{:.1f}", "peak MiB": "{:.1f}", "increase MiB": "{:.1f}"}
        | {"increase / size": "{:.4f}", "seconds": "{:.2f}"},
    )
    warmup = ctx.seeder.file(WARMUP_SIZE)
    increases: dict[int, int] = {}
    for size in sorted(ctx.profile.memory_sizes):
        progress(f"memory: seeding a {size_label(size)} file")
        seeded = ctx.seeder.file(size)
        progress(f"memory: {size_label(size)} on a fresh service")
        idle, peak, seconds, samples = _one(ctx, seeded, warmup)
        increases[size] = peak - idle
        table.raw[size_label(size)] = {"idle": idle, "peak": peak, "samples": samples}
        table.add(
            size=size_label(size),
            seconds=seconds,
            **{
                "idle MiB": idle / MIB,
                "peak MiB": peak / MIB,
                "increase MiB": (peak - idle) / MIB,
                "increase / size": (peak - idle) / size,
            },
        )
    if len(increases) >= 2:
        small, large = min(increases), max(increases)
        slope = (increases[large] - increases[small]) / (large - small)
        table.raw["growth_per_byte"] = slope
        table.notes.append(
            f"growth from {size_label(small)} to {size_label(large)}: {slope:.4f} bytes of RSS "
            "per extra byte of file (0 = flat; 1 = the whole file held in memory)"
        )
    return table


def _one(ctx: Context, seeded: SeededFile, warmup: SeededFile) -> tuple[int, int, float, list[int]]:
    """(idle RSS, peak RSS, seconds, samples) of one upload on a fresh, warmed-up service."""
    ctx.stack.restart_service()
    upload_checked(ctx, warmup, full_path_of(ctx, warmup), "bench-memory-warmup")
    full_path = full_path_of(ctx, seeded)
    pid = ctx.stack.service_pid
    idle_samples = []
    deadline = time.monotonic() + IDLE_SECONDS
    while time.monotonic() < deadline:
        idle_samples.append(rss_bytes(pid))
        time.sleep(0.05)
    idle = int(median(idle_samples))
    with RssSampler(pid) as sampler:
        sample = upload_checked(ctx, seeded, full_path, f"bench-memory-{seeded.size}")
    return idle, sampler.peak, sample.seconds, sampler.samples
