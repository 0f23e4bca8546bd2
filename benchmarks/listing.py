"""Listing: registered models page by page, and a version's files, via the service vs MLflow.

Three paths per call: MLflow's REST API with ``requests`` (the baseline), the service's
endpoint with ``requests`` (what the service adds), and ``RegistryClient`` (what a notebook
user waits for, parsing included). All three must return the same names.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import asdict

import requests

from benchmarks.context import Context, progress
from benchmarks.measure import Sample, median, median_cpu
from benchmarks.report import Table
from benchmarks.seeding import API, PROXY

NAME = "listing"
TIMEOUT = 120.0
MLFLOW = "MLflow REST (requests)"
SERVICE = "service HTTP (requests)"
CLIENT = "service RegistryClient"
PATHS = (MLFLOW, SERVICE, CLIENT)

Lister = Callable[[], tuple[int, list[str]]]


def run(ctx: Context) -> Table:
    table = Table(
        f"Listing: median of {ctx.profile.listing_repeats} full listings; "
        f"ratio = time / time of '{MLFLOW}'; CPU ms per process for one full listing",
        [
            "call",
            "max_results",
            "path",
            "requests",
            "items",
            "total ms",
            "ms/request",
            "ratio",
            "cpu ms service",
            "cpu ms mlflow",
            "cpu ms client",
        ],
        formats={"ratio": "{:.2f}", "ms/request": "{:.1f}", "total ms": "{:.1f}"}
        | dict.fromkeys(("cpu ms service", "cpu ms mlflow", "cpu ms client"), "{:.0f}"),
    )
    progress(f"listing: seeding {ctx.profile.models} registered models")
    ctx.seeder.bulk_models(ctx.profile.models)
    tree = ctx.seeder.tree(ctx.profile.tree_folders, ctx.profile.tree_files_per_folder)
    with requests.Session() as mlflow, requests.Session() as service:
        service.headers["Authorization"] = f"Bearer {ctx.stack.token}"
        for page_size in ctx.profile.page_sizes:
            progress(f"listing: registered models, max_results={page_size}")
            listers = {
                MLFLOW: lambda size=page_size: _mlflow_models(ctx, mlflow, size),
                SERVICE: lambda size=page_size: _service_models(ctx, service, size),
                CLIENT: lambda size=page_size: _client_models(ctx, size),
            }
            _compare(table, ctx, "list_registry_models", page_size, listers)
        progress("listing: a version's artifacts")
        listers = {
            MLFLOW: lambda: _mlflow_artifacts(ctx, mlflow, tree.model_name, tree.version),
            SERVICE: lambda: _service_artifacts(ctx, service, tree.model_name, tree.version),
            CLIENT: lambda: _client_artifacts(ctx, tree.model_name, tree.version),
        }
        _compare(table, ctx, "list_artifacts", None, listers, repeats_factor=2)
    table.notes.append(
        f"list_artifacts: a version with {tree.files} files in {tree.folders} folders; the "
        "MLflow row counts the REST requests it takes by hand (get version, get download "
        "URI, one proxy listing per folder)"
    )
    return table


def _compare(
    table: Table,
    ctx: Context,
    call: str,
    page_size: int | None,
    listers: dict[str, Lister],
    repeats_factor: int = 1,
) -> None:
    """Times every path (after one warm-up each), checks they agree, adds one row per path.

    The order of the paths rotates between repeats, so none always runs first (or right
    after MLflow has done the most work).
    """
    expected = None
    for path, lister in listers.items():
        _, names = lister()
        if expected is None:
            expected = sorted(names)
        elif sorted(names) != expected:
            raise RuntimeError(f"{call}: '{path}' listed {len(names)} items, not {len(expected)}")
    samples: dict[str, list[Sample]] = {path: [] for path in listers}
    requests_made: dict[str, int] = {}
    order = list(listers)
    for repeat in range(ctx.profile.listing_repeats * repeats_factor):
        shift = repeat % len(order)
        for path in order[shift:] + order[:shift]:
            sample, (requests_made[path], _) = ctx.stack.measured(listers[path])
            samples[path].append(sample)
    reference = median([s.seconds for s in samples[MLFLOW]])
    for path in listers:
        total = median([s.seconds for s in samples[path]])
        cpu = median_cpu(samples[path])
        table.add(
            call=call,
            max_results=page_size,
            path=path,
            requests=requests_made[path],
            items=len(expected or []),
            ratio=total / reference,
            **{
                "total ms": total * 1e3,
                "ms/request": total * 1e3 / requests_made[path],
                "cpu ms service": cpu.service * 1e3,
                "cpu ms mlflow": cpu.mlflow * 1e3,
                "cpu ms client": cpu.client * 1e3,
            },
        )
    table.raw[f"{call} {page_size}"] = {
        path: [asdict(sample) for sample in runs] for path, runs in samples.items()
    }


def _mlflow_models(
    ctx: Context, session: requests.Session, page_size: int
) -> tuple[int, list[str]]:
    names: list[str] = []
    token, pages = None, 0
    while True:
        params = {"max_results": page_size, **({"page_token": token} if token else {})}
        response = session.get(
            f"{ctx.stack.mlflow_url}{API}/registered-models/search", params=params, timeout=TIMEOUT
        )
        response.raise_for_status()
        body = response.json()
        pages += 1
        names += [m["name"] for m in body.get("registered_models", [])]
        token = body.get("next_page_token")
        if not token:
            return pages, names


def _service_models(
    ctx: Context, session: requests.Session, page_size: int
) -> tuple[int, list[str]]:
    names: list[str] = []
    token, pages = None, 0
    while True:
        body = {"registry_id": ctx.stack.registry_id, "max_results": page_size}
        if token:
            body["page_token"] = token
        response = session.post(
            f"{ctx.stack.service.url}/v1/api/models/list_registry_models",
            json=body,
            timeout=TIMEOUT,
        )
        response.raise_for_status()
        answer = response.json()
        pages += 1
        names += [m["name"] for m in answer["registered_models"]]
        token = answer.get("next_page_token")
        if not token:
            return pages, names


def _client_models(ctx: Context, page_size: int) -> tuple[int, list[str]]:
    names: list[str] = []
    token, pages = None, 0
    while True:
        page = ctx.stack.client.list_registry_models(
            ctx.stack.registry_id, page_token=token, max_results=page_size
        )
        pages += 1
        names += [m.name for m in page.registered_models]
        token = page.next_page_token
        if not token:
            return pages, names


def _mlflow_artifacts(
    ctx: Context, session: requests.Session, name: str, version: str
) -> tuple[int, list[str]]:
    """The REST calls a person makes by hand to list every file of a proxied version."""

    def get(url: str, params: dict) -> dict:
        response = session.get(url, params=params, timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()

    base = ctx.stack.mlflow_url
    get(f"{base}{API}/model-versions/get", {"name": name, "version": version})
    uri = get(f"{base}{API}/model-versions/get-download-uri", {"name": name, "version": version})
    root = uri["artifact_uri"].removeprefix("mlflow-artifacts:").strip("/")
    requests_made, found = 2, []
    todo = deque([""])
    while todo:
        folder = todo.popleft()
        listing = get(f"{base}{PROXY}", {"path": f"{root}/{folder}".rstrip("/")})
        requests_made += 1
        for entry in listing.get("files", []):
            rel = f"{folder}/{entry['path']}".lstrip("/")
            found.append(rel)
            if entry.get("is_dir"):
                todo.append(rel)
    return requests_made, found


def _service_artifacts(
    ctx: Context, session: requests.Session, name: str, version: str
) -> tuple[int, list[str]]:
    response = session.post(
        f"{ctx.stack.service.url}/v1/api/models/list_registry_model_version_artifacts",
        json={"registry_id": ctx.stack.registry_id, "name": name, "version": version},
        timeout=TIMEOUT,
    )
    response.raise_for_status()
    return 1, [a["relative_path"] for a in response.json()]


def _client_artifacts(ctx: Context, name: str, version: str) -> tuple[int, list[str]]:
    artifacts = ctx.stack.client.list_artifacts(ctx.stack.registry_id, name, version)
    return 1, [a.relative_path for a in artifacts]
