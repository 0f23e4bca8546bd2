"""Listing during uploads: does browsing stay as fast while two large uploads run?

The README claims it does (transfers run on threads and database connections of their own).
One page of models is listed through the service in quiet phases, with no upload in flight,
and in busy phases, with two uploads started by ``upload_from_registry(wait=False)`` moving
their bytes; the phases alternate so the machine's noise falls on both alike. The same page
straight from MLflow's REST API is timed alongside, since MLflow serves the uploads' bytes
too and a slower MLflow slows the service's listing with it.

A busy sample counts only if the service said, through ``get_upload`` just before and just
after it, that both uploads were ``uploading``, and their ``bytes_done`` changed around it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import requests

from benchmarks.context import Context, progress, size_label
from benchmarks.listing import MLFLOW, SERVICE
from benchmarks.measure import cpu_seconds, median, quantile, timed
from benchmarks.report import Table
from benchmarks.seeding import API, SeededFile, Seeder
from benchmarks.upload import full_path_of, remove_stored_files, until_finished
from wallaroo_registry_ui.client.records import UPLOADING, UploadProgress
from wallaroo_registry_ui.server.upload_runner import PROGRESS_SECONDS

NAME = "uploads_and_listing"
ELSEWHERE_NAME = "uploads_elsewhere_and_listing"
PAGE_SIZE = 100
UPLOADS = 2
PATHS = (SERVICE, MLFLOW)
TIMEOUT = 120.0
START_SECONDS = 60.0
PHASE_MAX_SECONDS = 120.0
PHASE_MAX_SAMPLES = 5000
READY_SECONDS = 600.0
POLL_SECONDS = 0.05
# The service writes bytes_done every PROGRESS_SECONDS, so a moving upload shows a new value
# within that much of any moment; twice that either side leaves room for a slow write.
MOVING_SECONDS = 2 * PROGRESS_SECONDS


@dataclass(frozen=True)
class Source:
    """Where the busy phases' uploads come from."""

    registry_id: str
    seeded: SeededFile
    full_path: str


@dataclass(frozen=True)
class Sample:
    """One listing on every path, back to back; ``checked`` if the phase held all through it."""

    start: float
    end: float
    seconds: dict[str, float]
    checked: bool


@dataclass
class Phase:
    kind: str
    seconds: float
    samples: list[Sample]
    cores: dict[str, float]
    polls: dict[int, list[tuple[float, str, int]]] = field(default_factory=dict)

    def kept(self) -> list[Sample]:
        return [s for s in self.samples if s.checked and self._moving(s)]

    def _moving(self, sample: Sample) -> bool:
        """Every upload's bytes_done took two values within MOVING_SECONDS of the sample."""
        for polls in self.polls.values():
            around = {
                done
                for at, _, done in polls
                if sample.start - MOVING_SECONDS <= at <= sample.end + MOVING_SECONDS
            }
            if len(around) < 2:
                return False
        return True


def run(ctx: Context) -> Table:
    """The uploads' bytes come from the MLflow server that is listed."""
    return _run(ctx, NAME, files_elsewhere=False)


def run_elsewhere(ctx: Context) -> Table:
    """The uploads' bytes come from a second MLflow server: what the service's uploads alone
    cost a listing, with the registry listed not busy serving them."""
    return _run(ctx, ELSEWHERE_NAME, files_elsewhere=True)


def _run(ctx: Context, name: str, *, files_elsewhere: bool) -> Table:
    size = ctx.profile.busy_upload_size
    rounds = ctx.profile.busy_rounds
    source = "a second MLflow server" if files_elsewhere else "the MLflow server listed"
    table = Table(
        f"Listing during uploads ({name}): one page of {PAGE_SIZE} models, {rounds} quiet and "
        f"{rounds} busy phases alternating; busy = {UPLOADS} uploads of {size_label(size)} "
        f"from {source} in flight; ratio = busy / quiet",
        [
            "path",
            "quiet n",
            "quiet median ms",
            "quiet p90 ms",
            "busy n",
            "busy median ms",
            "busy p90 ms",
            "median ratio",
            "p90 ratio",
        ],
        formats=dict.fromkeys(
            ("quiet median ms", "quiet p90 ms", "busy median ms", "busy p90 ms"), "{:.1f}"
        )
        | dict.fromkeys(("median ratio", "p90 ratio"), "{:.2f}"),
    )
    progress(f"{name}: seeding {ctx.profile.models} models and a {size_label(size)} file")
    ctx.seeder.bulk_models(ctx.profile.models)
    registry_id = ctx.stack.registry_id
    if files_elsewhere:
        registry_id, files_url = ctx.stack.files_registry()
        files_seeder = Seeder(files_url)
        try:
            seeded = files_seeder.file(size)
        finally:
            files_seeder.close()
    else:
        seeded = ctx.seeder.file(size)
    upload = Source(registry_id, seeded, full_path_of(ctx, seeded, registry_id))
    names = (f"bench-{name}-{index}".replace("_", "-") for index in itertools.count())
    with requests.Session() as mlflow, requests.Session() as service:
        service.headers["Authorization"] = f"Bearer {ctx.stack.token}"
        listers = {
            SERVICE: lambda: _service_page(ctx, service),
            MLFLOW: lambda: _mlflow_page(ctx, mlflow),
        }
        progress(f"{name}: warm-up busy phase (not counted)")
        warmup, _ = _busy_phase(ctx, listers, upload, names)
        quiet_seconds, phases, ready_seconds = warmup.seconds, [], []
        for index in range(rounds):
            progress(f"{name}: round {index + 1} of {rounds}, quiet for {quiet_seconds:.1f} s")
            phases.append(_quiet_phase(ctx, listers, quiet_seconds))
            progress(f"{name}: round {index + 1} of {rounds}, busy")
            busy, seconds = _busy_phase(ctx, listers, upload, names)
            phases.append(busy)
            ready_seconds.append(seconds)
            quiet_seconds = busy.seconds
    _fill(table, phases, ready_seconds, size)
    return table


def _fill(table: Table, phases: list[Phase], ready_seconds: list[float], size: int) -> None:
    quiet = [s for p in phases if p.kind == "quiet" for s in p.kept()]
    busy = [s for p in phases if p.kind == "busy" for s in p.kept()]
    busy_phases = [p for p in phases if p.kind == "busy"]
    dropped = sum(len(p.samples) - len(p.kept()) for p in busy_phases)
    at_end = sum(1 for p in busy_phases if p.samples and p.samples[-1] not in p.kept())
    for path in PATHS:
        quiet_ms = [s.seconds[path] * 1e3 for s in quiet]
        busy_ms = [s.seconds[path] * 1e3 for s in busy]
        table.add(
            path=path,
            **{
                "quiet n": len(quiet_ms),
                "quiet median ms": median(quiet_ms),
                "quiet p90 ms": quantile(quiet_ms, 0.9),
                "busy n": len(busy_ms),
                "busy median ms": median(busy_ms),
                "busy p90 ms": quantile(busy_ms, 0.9),
                "median ratio": median(busy_ms) / median(quiet_ms),
                "p90 ratio": quantile(busy_ms, 0.9) / quantile(quiet_ms, 0.9),
            },
        )

    def cores(kind: str, who: str) -> float:
        chosen = [p for p in phases if p.kind == kind]
        return sum(p.cores[who] * p.seconds for p in chosen) / sum(p.seconds for p in chosen)

    together = UPLOADS * size / median(ready_seconds) / 1e6
    table.notes += [
        "a busy sample counts if get_upload just before and just after it said both uploads "
        f"were uploading and each one's bytes_done changed within {MOVING_SECONDS:.1f} s of it; "
        f"{dropped} busy samples did not and are left out, {at_end} of them the last of its "
        "phase (an upload ended during it)",
        "quiet samples: list_uploads(status=uploading) empty just before and just after each",
        f"every upload ended ready with the seeded sha256 and size; each pair was ready in a "
        f"median {median(ready_seconds):.1f} s ({together:.0f} MB/s together)",
        "the service's own share, median of (service - MLflow) in the same sample, quiet / "
        f"busy: {_own_share(quiet):.1f} / {_own_share(busy):.1f} ms",
        "CPU cores in use, quiet / busy: service "
        f"{cores('quiet', 'service'):.2f} / {cores('busy', 'service'):.2f}, MLflow "
        f"{cores('quiet', 'mlflow'):.2f} / {cores('busy', 'mlflow'):.2f} (listing included)",
    ]
    table.raw["phases"] = [
        {
            "kind": p.kind,
            "seconds": p.seconds,
            "cores": p.cores,
            "samples": [asdict(s) for s in p.samples],
            "kept": len(p.kept()),
        }
        for p in phases
    ]
    table.raw["ready_seconds"] = ready_seconds


def _own_share(samples: list[Sample]) -> float:
    return median([(s.seconds[SERVICE] - s.seconds[MLFLOW]) * 1e3 for s in samples])


def _quiet_phase(ctx: Context, listers: dict[str, Callable[[], int]], seconds: float) -> Phase:
    """Samples for ``seconds`` with no upload in flight (it is an error if one is)."""

    def quiet() -> bool:
        in_flight = ctx.stack.client.list_uploads(ctx.stack.workspace_id, status=UPLOADING)
        if in_flight:
            raise RuntimeError(f"uploads in flight in a quiet phase: {in_flight}")
        return True

    samples, took, cores = _sample(ctx, listers, quiet, seconds)
    return Phase("quiet", took, samples, cores)


def _busy_phase(
    ctx: Context,
    listers: dict[str, Callable[[], int]],
    upload: Source,
    names: Iterator[str],
) -> tuple[Phase, float]:
    """Starts the uploads, samples while both are in flight, then checks how they ended.

    Also returns the seconds from starting them to the last ``finished_at``.
    """
    client = ctx.stack.client
    sent = time.time()
    ids = [
        client.upload_from_registry(
            upload.registry_id,
            name=next(names),
            path=upload.full_path,
            workspace_id=ctx.stack.workspace_id,
            framework="custom",
            model_name=upload.seeded.model_name,
            model_version=upload.seeded.version,
            wait=False,
        )
        for _ in range(UPLOADS)
    ]
    polls: dict[int, list[tuple[float, str, int]]] = {model_id: [] for model_id in ids}

    def states() -> list[UploadProgress]:
        found = [client.get_upload(model_id) for model_id in ids]
        now = time.monotonic()
        for state in found:
            polls[state.model_version_id].append((now, state.status, state.bytes_done))
        return found

    def in_flight() -> bool:
        return all(state.status == UPLOADING for state in states())

    _wait_for_first_bytes(states)
    samples, took, cores = _sample(ctx, listers, in_flight, PHASE_MAX_SECONDS)
    finished = []
    for model_id in ids:
        ended = client.wait_for_upload(model_id, timeout=READY_SECONDS, on_progress=lambda _: None)
        polls[model_id].append((time.monotonic(), ended.status, ended.bytes_done))
        finished.append(until_finished(ended, sent, time.time() - sent))
        stored = client.get_model_version(model_id)
        if (stored.sha, stored.size) != (upload.seeded.sha256, upload.seeded.size):
            raise RuntimeError(f"upload {model_id} stored {stored.size} bytes, sha {stored.sha}")
    remove_stored_files(ctx)
    return Phase("busy", took, samples, cores, polls), max(finished)


def _wait_for_first_bytes(states: Callable[[], list[UploadProgress]]) -> None:
    """Until every upload has moved bytes (a waiting one shows 0 done), within START_SECONDS."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        found = states()
        if any(state.status != UPLOADING for state in found):
            raise RuntimeError(f"an upload ended before the busy phase began: {found}")
        if all(state.bytes_done > 0 for state in found):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"uploads moved no bytes in {START_SECONDS:.0f} s: {found}")
        time.sleep(POLL_SECONDS)


def _sample(
    ctx: Context,
    listers: dict[str, Callable[[], int]],
    holds: Callable[[], bool],
    seconds: float,
) -> tuple[list[Sample], float, dict[str, float]]:
    """Lists back to back while ``holds()`` (asked between samples) and for at most
    ``seconds`` and PHASE_MAX_SAMPLES; the samples, the seconds taken, and the CPU cores the
    service and MLflow used meanwhile. The paths' order rotates between samples."""
    service_cpu, mlflow_cpu = cpu_seconds(ctx.stack.service_pid), cpu_seconds(ctx.stack.mlflow_pid)
    started = time.monotonic()
    samples: list[Sample] = []
    before = holds()
    while before and len(samples) < PHASE_MAX_SAMPLES and time.monotonic() - started < seconds:
        shift = len(samples) % len(PATHS)
        start = time.monotonic()
        took = {path: _timed_page(path, listers[path]) for path in PATHS[shift:] + PATHS[:shift]}
        end = time.monotonic()
        after = holds()
        samples.append(Sample(start, end, took, before and after))
        before = after
    elapsed = time.monotonic() - started
    cores = {
        "service": (cpu_seconds(ctx.stack.service_pid) - service_cpu) / elapsed,
        "mlflow": (cpu_seconds(ctx.stack.mlflow_pid) - mlflow_cpu) / elapsed,
    }
    return samples, elapsed, cores


def _timed_page(path: str, lister: Callable[[], int]) -> float:
    seconds, listed = timed(lister)
    if listed != PAGE_SIZE:
        raise RuntimeError(f"'{path}' listed {listed} models, not {PAGE_SIZE}")
    return seconds


def _service_page(ctx: Context, session: requests.Session) -> int:
    response = session.post(
        f"{ctx.stack.service.url}/v1/api/models/list_registry_models",
        json={"registry_id": ctx.stack.registry_id, "max_results": PAGE_SIZE},
        timeout=TIMEOUT,
    )
    response.raise_for_status()
    return len(response.json()["registered_models"])


def _mlflow_page(ctx: Context, session: requests.Session) -> int:
    response = session.get(
        f"{ctx.stack.mlflow_url}{API}/registered-models/search",
        params={"max_results": PAGE_SIZE},
        timeout=TIMEOUT,
    )
    response.raise_for_status()
    return len(response.json().get("registered_models", []))
