"""Upload: ``upload_from_registry`` through the service vs curl from MLflow's artifact proxy.

The service reads the same proxy URL, so the ratio against ``curl -o file`` is what the
service adds on top of moving the bytes: its REST calls, hashing, and the fsync before the
model is recorded. ``curl -o /dev/null`` and ``curl -o file + fsync`` bracket that.

An upload is a job: the service answers at once and moves the bytes in the background. Its
time runs from sending ``upload_from_registry`` to the ``finished_at`` the service records
when the version is ready (one host, one clock), so the client's poll interval is not in it;
the wait that follows is only there to learn that moment.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.context import Context, progress, size_label
from benchmarks.measure import Sample, median, median_cpu, timed
from benchmarks.report import Table
from benchmarks.seeding import SeededFile
from wallaroo_registry_ui.client.records import UploadProgress

NAME = "upload"
CURL_MAX_SECONDS = 300
CLOCK_SLACK_SECONDS = 0.05
OURS = "service upload_from_registry, until ready"
CURL_FILE = "curl -o file"
CURL_FSYNC = "curl -o file + fsync"
CURL_NULL = "curl -o /dev/null"
PATHS = (OURS, CURL_FILE, CURL_FSYNC, CURL_NULL)


def run(ctx: Context) -> Table:
    table = Table(
        f"Upload: median of {ctx.profile.upload_repeats} runs; ratio = seconds / seconds of "
        f"'{CURL_FILE}' for the same size; CPU seconds per process during the transfer",
        ["size", "path", "seconds", "MB/s", "ratio", "cpu service", "cpu mlflow", "cpu client"],
        formats={"MB/s": "{:.0f}", "ratio": "{:.2f}"}
        | dict.fromkeys(("cpu service", "cpu mlflow", "cpu client"), "{:.2f}"),
    )
    for size in ctx.profile.upload_sizes:
        progress(f"upload: seeding a {size_label(size)} file")
        seeded = ctx.seeder.file(size)
        samples = _measure(ctx, seeded)
        table.raw[size_label(size)] = {
            path: [asdict(sample) for sample in runs] for path, runs in samples.items()
        }
        reference = median([s.seconds for s in samples[CURL_FILE]])
        for path in PATHS:
            seconds = median([s.seconds for s in samples[path]])
            cpu = median_cpu(samples[path])
            table.add(
                size=size_label(size),
                path=path,
                seconds=seconds,
                ratio=seconds / reference,
                **{
                    "MB/s": size / seconds / 1e6,
                    "cpu service": cpu.service,
                    "cpu mlflow": cpu.mlflow,
                    "cpu client": cpu.client,
                },
            )
    table.notes += [
        "service seconds: from sending upload_from_registry to the finished_at the service "
        "recorded when the version became ready (same host clock), so no poll interval counts",
        "every service upload is checked afterwards: stored sha256 and size equal the seeded file",
        "cpu client = this process and the curl it ran; for the service row, the RegistryClient",
    ]
    return table


def _measure(ctx: Context, seeded: SeededFile) -> dict[str, list[Sample]]:
    """Runs each path ``upload_repeats`` times, rotating their order between rounds."""
    full_path = full_path_of(ctx, seeded)
    out = ctx.scratch / "curl.bin"
    counter = itertools.count()
    steps: dict[str, Callable[[], dict[str, Sample]]] = {
        OURS: lambda: {OURS: upload_checked(ctx, seeded, full_path, f"bench-up-{next(counter)}")},
        CURL_FILE: lambda: _curl_to_file(ctx, seeded, out),
        CURL_NULL: lambda: {CURL_NULL: _curl(ctx, seeded.proxy_url, Path(os.devnull))},
    }
    samples: dict[str, list[Sample]] = {path: [] for path in PATHS}
    order = list(steps)
    for round_index in range(ctx.profile.upload_repeats):
        progress(f"upload: {size_label(seeded.size)}, round {round_index + 1}")
        shift = round_index % len(order)
        for step in order[shift:] + order[:shift]:
            for path, sample in steps[step]().items():
                samples[path].append(sample)
    return samples


def full_path_of(ctx: Context, seeded: SeededFile, registry_id: str | None = None) -> str:
    """The file's ``full_path`` as a user gets it: from the service's artifact listing (of
    the stack's registry unless ``registry_id`` names another)."""
    artifacts = ctx.stack.client.list_artifacts(
        registry_id or ctx.stack.registry_id, seeded.model_name, seeded.version
    )
    return next(a.full_path for a in artifacts if a.relative_path == seeded.relative_path)


def upload_checked(ctx: Context, seeded: SeededFile, full_path: str, name: str) -> Sample:
    """One measured upload, from the request until the service has the version ready; then
    its sha256 and size are checked."""
    client = ctx.stack.client
    sent = time.time()

    def upload_until_ready() -> UploadProgress:
        model_id = client.upload_from_registry(
            ctx.stack.registry_id,
            name=name,
            path=full_path,
            workspace_id=ctx.stack.workspace_id,
            framework="custom",
            model_name=seeded.model_name,
            model_version=seeded.version,
            wait=False,
        )
        return client.wait_for_upload(model_id, on_progress=lambda _: None)

    waited, ended = ctx.stack.measured(upload_until_ready)
    seconds = until_finished(ended, sent, waited.seconds)
    stored = client.get_model_version(ended.model_version_id)
    if (stored.sha, stored.size) != (seeded.sha256, seeded.size):
        raise RuntimeError(
            f"upload {ended.model_version_id} stored {stored.size} bytes, sha {stored.sha}"
        )
    remove_stored_files(ctx)
    return Sample(seconds, waited.cpu)


def until_finished(ended: UploadProgress, sent: float, waited: float) -> float:
    """Seconds from ``sent`` (epoch) to the service's ``finished_at``; it must fall within the
    client's own wait, or the two clocks are not one and the number would mean nothing."""
    if not ended.finished_at:
        raise RuntimeError(f"upload {ended.model_version_id} is ready without a finished_at")
    finished = datetime.fromisoformat(ended.finished_at.replace("Z", "+00:00"))
    if finished.tzinfo is None:
        finished = finished.replace(tzinfo=timezone.utc)
    seconds = finished.timestamp() - sent
    if not 0 < seconds <= waited + CLOCK_SLACK_SECONDS:
        raise RuntimeError(
            f"upload {ended.model_version_id} finished {seconds:.3f} s after it was sent, "
            f"but the client waited {waited:.3f} s: the service's clock is not this one"
        )
    return seconds


def remove_stored_files(ctx: Context) -> None:
    """Deletes uploaded bytes between runs so gigabytes do not pile up in the data dir."""
    for path in (ctx.stack.service.data_dir / "artifacts").rglob("*"):
        if path.is_file():
            path.unlink()


def _curl(ctx: Context, url: str, out: Path) -> Sample:
    command = ["curl", "-sS", "--fail", "--max-time", str(CURL_MAX_SECONDS), "-o", str(out), url]
    sample, _ = ctx.stack.measured(
        lambda: subprocess.run(command, check=True, timeout=CURL_MAX_SECONDS + 10)
    )
    return sample


def _curl_to_file(ctx: Context, seeded: SeededFile, out: Path) -> dict[str, Sample]:
    """curl into a file on the service's disk; then the fsync the service also does."""
    fetched = _curl(ctx, seeded.proxy_url, out)
    if out.stat().st_size != seeded.size:
        raise RuntimeError(f"curl wrote {out.stat().st_size} bytes, expected {seeded.size}")
    synced = Sample(fetched.seconds + _fsync_and_remove(out), fetched.cpu)
    return {CURL_FILE: fetched, CURL_FSYNC: synced}


def _fsync_and_remove(out: Path) -> float:
    """Seconds to make a downloaded file durable, as the service does before recording it."""
    fd = os.open(out, os.O_RDONLY)
    try:
        seconds, _ = timed(lambda: os.fsync(fd))
    finally:
        os.close(fd)
    out.unlink()
    return seconds
