"""MlflowConnector and RegistryHttp against a real, seeded MLflow server, and against tiny
misbehaving servers for the failures a real MLflow will not produce on demand."""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from mlflow import MlflowClient
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from support.api_samples import RM_KEYS
from support.registry_helpers import digest_download, mlflow_model_names, read_download
from support.silent_port import no_connection_seen

from wallaroo_registry_ui.contract import MODEL_VERSION_KEYS as MV_KEYS
from wallaroo_registry_ui.demo.processes import free_port
from wallaroo_registry_ui.server.connectors.base import (
    InvalidArtifactPath,
    RegistryNotFound,
    UpstreamError,
    UpstreamTimeout,
)
from wallaroo_registry_ui.server.connectors.http import RegistryHttp
from wallaroo_registry_ui.server.connectors.mlflow import MlflowConnector

TOKEN = "tok-9f8e7d6c5b4a-secret"
ARTIFACT_KEYS = {"file_size", "full_path", "is_dir", "modification_time", "path", "relative_path"}


@pytest.fixture(scope="module")
def connector(mlflow_seed) -> Iterator[MlflowConnector]:
    con = MlflowConnector("local mlflow", mlflow_seed.url)
    yield con
    con.close()


def _all_models(con: MlflowConnector, page_size: int, **kwargs) -> tuple[list[dict], int]:
    items, token, pages = [], None, 0
    while True:
        page = con.list_models(max_results=page_size, page_token=token, **kwargs)
        items += page.items
        pages += 1
        token = page.next_page_token
        if not token:
            return items, pages


def _mlflow_tree(uri: str) -> dict[str, tuple[bool, int]]:
    """What MLflow's own client lists under ``uri``, recursively."""
    repo = get_artifact_repository(uri)
    tree: dict[str, tuple[bool, int]] = {}
    todo = [None]
    while todo:
        for info in repo.list_artifacts(todo.pop()):
            tree[info.path] = (info.is_dir, 0 if info.is_dir else int(info.file_size or 0))
            if info.is_dir:
                todo.append(info.path)
    return tree


# --- models -------------------------------------------------------------------------------


def test_all_models_across_pages_match_mlflow(connector, mlflow_seed):
    items, pages = _all_models(connector, 37)
    names = [item["name"] for item in items]
    assert pages > 7
    assert len(names) == len(set(names)) >= 268
    assert names == mlflow_model_names(mlflow_seed.url)
    assert set(names) == set(mlflow_seed.model_names)
    for item in items:
        assert set(item) == RM_KEYS
        for version in item["latest_versions"] or []:
            assert list(version) == list(MV_KEYS)


def test_model_fields(connector, mlflow_seed):
    items, _ = _all_models(connector, 1000)
    by_name = {item["name"]: item for item in items}
    wine = by_name[mlflow_seed.wine_model]
    assert wine["aliases"] == [
        {"alias": "challenger", "version": "1"},
        {"alias": "champion", "version": "2"},
    ]
    assert {"key": "team", "value": "data-science"} in wine["tags"]
    assert wine["description"].startswith("Classifies wines")
    assert wine["user_id"] == ""
    assert isinstance(wine["creation_timestamp"], int)
    stages = {v["version"]: v["current_stage"] for v in wine["latest_versions"]}
    assert stages == mlflow_seed.wine_stages
    empty = by_name[mlflow_seed.empty_model]
    assert empty["latest_versions"] is None
    assert empty["aliases"] == [] and empty["tags"] == []
    bulk = by_name[mlflow_seed.bulk_models[0]]
    assert bulk["description"] == "" and bulk["latest_versions"] is None
    assert by_name[mlflow_seed.html_model]["description"] == mlflow_seed.html_description
    assert mlflow_seed.unicode_model in by_name and mlflow_seed.quote_model in by_name


def test_filter_and_order_by_pass_through(connector, mlflow_seed):
    flt = "name LIKE 'bulk-model-00%'"
    items, _ = _all_models(connector, 30, filter=flt, order_by=["name DESC"])
    names = [item["name"] for item in items]
    expected = sorted(n for n in mlflow_seed.bulk_models if n.startswith("bulk-model-00"))
    assert names == expected[::-1]
    order = ["last_updated_timestamp DESC", "name ASC"]
    items, _ = _all_models(connector, 1000, order_by=order)
    assert [i["name"] for i in items] == mlflow_model_names(mlflow_seed.url, order_by=order)


def test_empty_result(connector):
    page = connector.list_models(max_results=10, filter="name = 'no such model'")
    assert page.items == [] and page.next_page_token is None


def test_bad_filter_is_an_upstream_400(connector):
    with pytest.raises(UpstreamError) as caught:
        connector.list_models(max_results=10, filter="bogus")
    assert caught.value.status == 400
    assert str(caught.value) == (
        "registry 'local mlflow' answered HTTP 400: it refused a value of the request "
        "(INVALID_PARAMETER_VALUE)"
    )


# --- versions -----------------------------------------------------------------------------


def test_versions_newest_first_with_exact_keys(connector, mlflow_seed):
    page = connector.list_versions(mlflow_seed.wine_model, max_results=100)
    assert [v["version"] for v in page.items] == ["2", "1"]
    assert page.next_page_token is None
    for item in page.items:
        assert list(item) == list(MV_KEYS)
        assert item["source"].startswith("models:/m-")
        assert all(value is not None for value in item.values())
    assert {v["version"]: v["current_stage"] for v in page.items} == mlflow_seed.wine_stages


def test_versions_page_by_page(connector, mlflow_seed):
    first = connector.list_versions(mlflow_seed.wine_model, max_results=1)
    assert [v["version"] for v in first.items] == ["2"] and first.next_page_token
    second = connector.list_versions(
        mlflow_seed.wine_model, max_results=1, page_token=first.next_page_token
    )
    assert [v["version"] for v in second.items] == ["1"]


def test_versions_extended(connector, mlflow_seed):
    page = connector.list_versions(mlflow_seed.wine_model, max_results=100, extended=True)
    by_version = {v["version"]: v for v in page.items}
    assert by_version["2"]["aliases"] == ["champion"]
    assert by_version["1"]["aliases"] == ["challenger"]
    assert by_version["2"]["tags"] == [{"key": "validation_status", "value": "approved"}]
    assert set(by_version["1"]) == {*MV_KEYS, "aliases", "tags"}
    nested = connector.list_versions(mlflow_seed.nested_model, max_results=10, extended=True)
    assert nested.items[0]["aliases"] == [] and nested.items[0]["tags"] == []


@pytest.mark.parametrize(
    "attr", ["html_model", "quote_model", "quote_decoy_model", "unicode_model"]
)
def test_versions_of_odd_names(connector, mlflow_seed, attr):
    name = getattr(mlflow_seed, attr)
    page = connector.list_versions(name, max_results=100, extended=attr == "quote_model")
    assert [(v["name"], v["version"]) for v in page.items] == [(name, "1")]


def test_versions_of_a_model_without_versions(connector, mlflow_seed):
    page = connector.list_versions(mlflow_seed.empty_model, max_results=10)
    assert page.items == [] and page.next_page_token is None


def test_unknown_model_and_version(connector, mlflow_seed):
    with pytest.raises(RegistryNotFound) as caught:
        connector.list_versions("no such model", max_results=10)
    assert caught.value.status == 404
    assert str(caught.value).endswith("it does not exist (RESOURCE_DOES_NOT_EXIST)")
    with pytest.raises(RegistryNotFound):
        connector.list_versions("no such model", max_results=10, extended=True)
    with pytest.raises(RegistryNotFound):
        connector.list_artifacts(mlflow_seed.wine_model, "99")
    with pytest.raises(RegistryNotFound):
        connector.open_download(f"models:/{mlflow_seed.wine_model}/99/MLmodel")
    with pytest.raises(RegistryNotFound):
        connector.open_download(f"models:/{mlflow_seed.nested_model}/1/no/such/file.bin")


# --- artifacts ----------------------------------------------------------------------------


def _check_listing(items: list[dict], expected: dict[str, tuple[bool, int]]) -> None:
    assert [i["relative_path"] for i in items] == sorted(expected)
    for item in items:
        assert set(item) == ARTIFACT_KEYS
        assert item["path"] == "/" + item["relative_path"]
        assert item["modification_time"] is None
        assert (item["is_dir"], item["file_size"]) == expected[item["relative_path"]]


@pytest.mark.parametrize("attr", ["wine_model", "nested_model", "run_source_model", "html_model"])
def test_artifacts_match_what_mlflow_lists(connector, mlflow_seed, attr):
    name = getattr(mlflow_seed, attr)
    version = "2" if attr == "wine_model" else "1"
    client = MlflowClient(tracking_uri=mlflow_seed.url)
    source = client.get_model_version(name, version).source
    uri = client.get_model_version_download_uri(name, version)
    items = connector.list_artifacts(name, version)
    _check_listing(items, _mlflow_tree(source if source.startswith("runs:/") else uri))
    files = [i for i in items if not i["is_dir"]]
    assert files
    smallest = min(files, key=lambda i: i["file_size"])
    response = requests.get(smallest["full_path"], timeout=30)
    assert response.status_code == 200 and len(response.content) == smallest["file_size"]


def test_nested_folders_are_listed(connector, mlflow_seed):
    items = connector.list_artifacts(mlflow_seed.nested_model, mlflow_seed.nested_version)
    dirs = {i["relative_path"] for i in items if i["is_dir"]}
    assert dirs == {"config", "weights", "weights/layer1", "weights/layer2", "weights/layer2/deep"}
    sizes = {i["relative_path"]: i["file_size"] for i in items if not i["is_dir"]}
    assert sizes == mlflow_seed.nested_files
    run_items = connector.list_artifacts(mlflow_seed.run_source_model, "1")
    assert [(i["relative_path"], i["file_size"]) for i in run_items] == [
        (i["relative_path"], i["file_size"]) for i in items
    ]


def test_large_file_download_matches_source(connector, mlflow_seed):
    large = mlflow_seed.large_file
    items = connector.list_artifacts(large.model_name, large.version)
    item = next(i for i in items if i["relative_path"] == large.relative_path)
    assert item["file_size"] == large.size
    download = connector.open_download(item["full_path"])
    assert download.size == large.size and download.file_name == "big.bin"
    assert download.provenance == {
        "model_name": large.model_name,
        "model_version": large.version,
        "path": large.relative_path,
    }
    sha256, total, biggest = digest_download(download)
    assert total == large.size and sha256 == large.sha256
    assert biggest <= 1 << 20


def test_every_accepted_path_form(connector, mlflow_seed):
    url, client = mlflow_seed.url, MlflowClient(tracking_uri=mlflow_seed.url)
    name, version = mlflow_seed.nested_model, mlflow_seed.nested_version
    readme = requests.get(
        f"{url}/model-versions/get-artifact",
        params={"name": name, "version": version, "path": "README.md"},
        timeout=30,
    ).content
    proxy_rel = client.get_model_version_download_uri(name, version).split(":/", 1)[1]
    items = connector.list_artifacts(name, version)
    full_path = next(i["full_path"] for i in items if i["relative_path"] == "README.md")
    run_items = connector.list_artifacts(mlflow_seed.run_source_model, "1")
    run_full_path = next(i["full_path"] for i in run_items if i["relative_path"] == "README.md")
    forms = {
        full_path: (name, version, "README.md"),
        run_full_path: (None, None, "model_dir/README.md"),
        f"{url}/api/2.0/mlflow-artifacts/artifacts/{proxy_rel}/README.md": (
            None,
            None,
            f"{proxy_rel}/README.md",
        ),
        f"mlflow-artifacts:/{proxy_rel}/README.md": (None, None, f"{proxy_rel}/README.md"),
        f"models:/{name}/{version}/README.md": (name, version, "README.md"),
        f"models:/{mlflow_seed.run_source_model}/1/README.md": (
            mlflow_seed.run_source_model,
            "1",
            "README.md",
        ),
        f"runs:/{mlflow_seed.run_id}/model_dir/README.md": (None, None, "model_dir/README.md"),
    }
    for path, (model_name, model_version, rel) in forms.items():
        download = connector.open_download(path)
        assert download.file_name == "README.md"
        assert download.size == len(readme)
        assert download.provenance == {
            "model_name": model_name,
            "model_version": model_version,
            "path": rel,
        }
        assert read_download(download) == readme, path

    wine, mlmodel_version = mlflow_seed.wine_model, "2"
    mlmodel = requests.get(
        f"{url}/model-versions/get-artifact",
        params={"name": wine, "version": mlmodel_version, "path": "MLmodel"},
        timeout=30,
    ).content
    for path in (
        f"models:/{mlflow_seed.wine_model_id}/MLmodel",
        f"models:/{wine}/{mlmodel_version}/MLmodel",
    ):
        download = connector.open_download(path)
        assert download.size == len(mlmodel)
        assert read_download(download) == mlmodel


def test_odd_names_download(connector, mlflow_seed):
    for name in mlflow_seed.odd_models:
        items = connector.list_artifacts(name, "1")
        item = next(i for i in items if i["relative_path"] == "MLmodel")
        assert urlsplit(item["full_path"]).netloc == urlsplit(mlflow_seed.url).netloc
        served = requests.get(
            f"{mlflow_seed.url}/model-versions/get-artifact",
            params={"name": name, "version": "1", "path": "MLmodel"},
            timeout=30,
        )
        assert served.status_code == 200, name
        download = connector.open_download(item["full_path"])
        assert download.provenance["model_name"] == name
        assert read_download(download) == served.content, name
        assert item["file_size"] == len(served.content)


def test_paths_elsewhere_are_refused_without_a_connection(connector, mlflow_seed, silent_port):
    port = silent_port.getsockname()[1]
    own_port = urlsplit(mlflow_seed.url).port
    query = "name=nested_weights&version=1&path=README.md"
    for path in (
        f"http://127.0.0.1:{port}/model-versions/get-artifact?{query}",
        f"http://localhost:{own_port}/model-versions/get-artifact?{query}",
        f"https://127.0.0.1:{own_port}/model-versions/get-artifact?{query}",
        f"mlflow-artifacts://127.0.0.1:{port}/0/x/README.md",
    ):
        with pytest.raises(InvalidArtifactPath) as caught:
            connector.open_download(path)
        assert "local mlflow" in str(caught.value)
    assert no_connection_seen(silent_port)


TRAP_PATHS = [
    "",
    "file:///etc/passwd",
    "s3://bucket/model.pkl",
    "dbfs:/databricks/mlflow-registry/1/models/m/model.pkl",
    "ftp://127.0.0.1/x",
    "models:/wine_quality/1/../../../etc/passwd",
    "models:/wine_quality/latest/MLmodel",
    "models:/wine_quality/1/",
    "models://profile@databricks/wine_quality/1/MLmodel",
    "mlflow-artifacts:/0/../../etc/passwd",
    "mlflow-artifacts:/0/a/./b",
    "mlflow-artifacts:/0/a\\..\\b",
    "mlflow-artifacts:relative/path",
    "runs:/abc/../../etc/passwd",
    "runs:/not a run/x",
    "{url}/api/2.0/mlflow-artifacts/artifacts/0/%2e%2e/%2e%2e/etc/passwd",
    "{url}/api/2.0/mlflow-artifacts/artifacts/0/..%2F..%2Fetc%2Fpasswd",
    "{url}/model-versions/get-artifact?name=m&version=1&path=../../etc/passwd",
    "{url}/model-versions/get-artifact?name=m&version=1&path=a&path=b",
    "{url}/model-versions/get-artifact?name=m&version=x&path=a",
    "{url}/get-artifact?run_uuid=r&path=a/../../b",
    "{url}/api/2.0/mlflow/registered-models/search",
    "http://user:pw@{netloc}/model-versions/get-artifact?name=m&version=1&path=a",
]


@pytest.mark.parametrize("template", TRAP_PATHS)
def test_bad_paths_are_refused_before_any_request(silent_port, template):
    url = f"http://127.0.0.1:{silent_port.getsockname()[1]}"
    http = RegistryHttp("trap", url, TOKEN, timeout=0.3, max_retry_seconds=0)
    trap = MlflowConnector("trap", url, http=http)
    path = template.format(url=url, netloc=urlsplit(url).netloc)
    with pytest.raises(InvalidArtifactPath) as caught:
        trap.open_download(path)
    assert "'trap'" in str(caught.value) and caught.value.field == "path"
    assert no_connection_seen(silent_port)


def test_the_trap_does_catch_a_request(silent_port):
    url = f"http://127.0.0.1:{silent_port.getsockname()[1]}"
    http = RegistryHttp("trap", url, timeout=0.3, max_retry_seconds=0)
    with pytest.raises(UpstreamTimeout):
        MlflowConnector("trap", url, http=http).open_download("mlflow-artifacts:/0/x/y.bin")
    assert not no_connection_seen(silent_port)


# --- error mapping and HTTP behaviour (tiny servers) --------------------------------------


class TinyServer:
    """A threaded HTTP server on 127.0.0.1 whose routes the test sets; it records requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[http.server.BaseHTTPRequestHandler], None]] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                owner.seen.append((path, dict(self.headers)))
                route = owner.routes.get(path)
                try:
                    if route is None:
                        reply(self, 404)
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for seen_path, headers in self.seen if seen_path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def reply(handler, status: int, body: bytes = b"", content_type: str = "", **headers) -> None:
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    for key, value in headers.items():
        handler.send_header(key.replace("_", "-"), value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def tiny() -> Iterator[TinyServer]:
    server = TinyServer()
    yield server
    server.close()


def _http(server: TinyServer, **kwargs) -> RegistryHttp:
    return RegistryHttp("tiny", server.url, TOKEN, **{"max_retry_seconds": 5, **kwargs})


def _json(data: dict) -> bytes:
    return json.dumps(data).encode()


def test_an_html_page_is_not_repeated(tiny):
    page = "<!DOCTYPE html><html><head><title>Error 403 Invalid access token.</title></head>"
    page += f"<body><pre>Bearer {TOKEN}</pre></body></html>"
    tiny.routes["/x"] = lambda h: reply(h, 403, page.encode(), "text/html; charset=utf-8")
    with pytest.raises(UpstreamError) as caught:
        _http(tiny).get_json("/x")
    message = str(caught.value)
    assert message == "registry 'tiny' answered HTTP 403: access denied"
    assert len(tiny.hits("/x")) == 1


def test_errors_say_the_status_in_words_never_the_body(tiny):
    tiny.routes["/untitled"] = lambda h: reply(h, 401, b"<html><body>no</body></html>")
    tiny.routes["/empty"] = lambda h: reply(h, 500)
    echo = _json({"error_code": "PERMISSION_DENIED", "message": f"token {TOKEN} may not"})
    tiny.routes["/echo"] = lambda h: reply(h, 403, echo, "application/json")
    tiny.routes["/html200"] = lambda h: reply(h, 200, b"<html><title>Sign in</title></html>")
    tiny.routes["/missing"] = lambda h: reply(h, 404, b"Not Found", "text/plain")
    client = _http(tiny)
    expected = {
        "/untitled": "answered HTTP 401: the registry rejected the token",
        "/empty": "answered HTTP 500: a server error",
        "/echo": "answered HTTP 403: permission denied (PERMISSION_DENIED)",
        "/html200": "answered HTTP 200: an answer that is not JSON",
        "/missing": "answered HTTP 404: not found",
    }
    for path, said in expected.items():
        with pytest.raises(UpstreamError) as caught:
            client.get_json(path)
        assert str(caught.value) == f"registry 'tiny' {said}"
        assert TOKEN not in str(caught.value)
        assert len(tiny.hits(path)) == 1
    with pytest.raises(RegistryNotFound):
        client.get_json("/missing")


def test_slow_server_times_out(tiny):
    def slow(handler):
        time.sleep(10)
        reply(handler, 200, b"{}", "application/json")

    tiny.routes["/slow"] = slow
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        _http(tiny, timeout=0.5).get_json("/slow")
    assert time.monotonic() - started < 5, "it waited for the answer, not the 0.5 s timeout"
    assert str(caught.value).startswith("registry 'tiny': no answer from http://127.0.0.1:")


def test_stall_in_the_middle_of_a_file_times_out(tiny):
    def stall(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "10")
        handler.end_headers()
        handler.wfile.write(b"12345")
        handler.wfile.flush()
        time.sleep(2)

    tiny.routes["/file"] = stall
    client = _http(tiny, timeout=0.5)
    response = client.stream("/file")
    with pytest.raises(UpstreamTimeout):
        b"".join(client.iter_chunks(response, 4))


def test_dead_port_is_an_upstream_error():
    port = free_port()
    http = RegistryHttp("gone", f"http://127.0.0.1:{port}", TOKEN, max_retry_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        MlflowConnector("gone", "", http=http).list_models(max_results=10)
    assert time.monotonic() - started < 3
    assert str(caught.value) == f"registry 'gone': nothing answers at 127.0.0.1:{port}"
    assert not isinstance(caught.value, (RegistryNotFound, UpstreamTimeout))


def test_redirect_to_another_origin_drops_the_token(tiny):
    other = TinyServer()
    try:
        other.routes["/landing"] = lambda h: reply(h, 200, b'{"where": "other"}')
        tiny.routes["/landing"] = lambda h: reply(h, 200, b'{"where": "same"}')
        tiny.routes["/away"] = lambda h: reply(h, 302, Location=f"{other.url}/landing")
        tiny.routes["/home"] = lambda h: reply(h, 307, Location="/landing")
        client = _http(tiny)
        assert client.get_json("/away") == {"where": "other"}
        assert tiny.hits("/away")[0]["Authorization"] == f"Bearer {TOKEN}"
        assert "Authorization" not in other.hits("/landing")[0]
        assert client.get_json("/home") == {"where": "same"}
        assert tiny.hits("/landing")[0]["Authorization"] == f"Bearer {TOKEN}"
    finally:
        other.close()


def test_redirect_loop_is_cut(tiny):
    tiny.routes["/loop"] = lambda h: reply(h, 302, Location="/loop")
    with pytest.raises(UpstreamError, match="redirected more than 5 times"):
        _http(tiny).get_json("/loop")
    assert len(tiny.hits("/loop")) == 6


def test_no_token_no_authorization_header(tiny):
    tiny.routes["/x"] = lambda h: reply(h, 200, b"{}")
    RegistryHttp("tiny", tiny.url).get_json("/x")
    assert "Authorization" not in tiny.hits("/x")[0]


def _flaky(first: Callable, then: Callable) -> Callable:
    calls = []

    def route(handler):
        calls.append(1)
        (first if len(calls) == 1 else then)(handler)

    return route


def test_retry_after_is_honoured(tiny, caplog):
    ok = lambda h: reply(h, 200, b'{"ok": true}', "application/json")  # noqa: E731
    tiny.routes["/429"] = _flaky(lambda h: reply(h, 429, b"slow down", Retry_After="1"), ok)
    tiny.routes["/503"] = _flaky(lambda h: reply(h, 503), ok)
    tiny.routes["/502"] = _flaky(lambda h: reply(h, 502), ok)
    client = _http(tiny)
    with caplog.at_level(logging.INFO):
        for path, least in (("/429", 1.0), ("/503", 1.0), ("/502", 0.2)):
            started = time.monotonic()
            assert client.get_json(path) == {"ok": True}
            assert least <= time.monotonic() - started < least + 1.5
            assert len(tiny.hits(path)) == 2
    assert "retrying" in caplog.text and TOKEN not in caplog.text


def test_retries_stop_within_the_budget(tiny):
    tiny.routes["/busy"] = lambda h: reply(h, 429, Retry_After="30")
    tiny.routes["/bad"] = lambda h: reply(h, 400, _json({"error_code": "X", "message": "no"}))
    client = _http(tiny, max_retry_seconds=20)
    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        client.get_json("/busy")
    # Retry-After is beyond the budget: it gives up at once rather than waiting 20 s.
    assert caught.value.status == 429 and time.monotonic() - started < 5
    with pytest.raises(UpstreamError):
        client.get_json("/bad")
    assert len(tiny.hits("/busy")) == 1 and len(tiny.hits("/bad")) == 1


def test_download_follows_errors_of_a_bad_server(tiny):
    tiny.routes["/api/2.0/mlflow-artifacts/artifacts/0/x/y.bin"] = lambda h: reply(
        h, 403, b"<html><title>Forbidden</title></html>", "text/html"
    )
    con = MlflowConnector("tiny", tiny.url, http=_http(tiny))
    with pytest.raises(UpstreamError, match=r"HTTP 403: access denied$"):
        con.open_download(f"mlflow-artifacts:/0/x/{quote('y.bin')}")


def _fake_mlflow(server: TinyServer, source: str, listings: dict[str, list[dict]]) -> None:
    """Routes of an MLflow whose one version has ``source`` and whose listings loop."""
    version = {"name": "m", "version": "1", "source": source, "run_id": "r"}
    server.routes["/api/2.0/mlflow/model-versions/get"] = lambda h: reply(
        h, 200, _json({"model_version": version})
    )
    server.routes["/api/2.0/mlflow/model-versions/get-download-uri"] = lambda h: reply(
        h, 200, _json({"artifact_uri": "mlflow-artifacts:/0/r/artifacts/m"})
    )

    def listing(handler):
        query = parse_qs(urlsplit(handler.path).query)
        key = (query.get("artifact_directory_path") or query.get("path") or [""])[0]
        reply(handler, 200, _json({"files": listings.get(key, [])}))

    server.routes["/api/2.0/mlflow-artifacts/artifacts"] = listing
    server.routes[f"/api/2.0/mlflow/logged-models/{LOGGED_ID}/artifacts/directories"] = listing


LOGGED_ID = "m-" + "0" * 32


def test_a_listing_that_returns_itself_does_not_loop(tiny):
    _fake_mlflow(
        tiny,
        f"models:/{LOGGED_ID}",
        {
            "": [{"path": "d", "is_dir": True}, {"path": "f", "is_dir": False, "file_size": 3}],
            "d": [
                {"path": "d", "is_dir": True},
                {"path": "d/x", "is_dir": False, "file_size": 5},
                {"path": "../escape", "is_dir": True},
            ],
            "d/x": [{"path": "d/x", "is_dir": False, "file_size": 5}],
        },
    )
    con = MlflowConnector("tiny", tiny.url, http=_http(tiny))
    items = con.list_artifacts("m", "1")
    assert [(i["relative_path"], i["is_dir"], i["file_size"]) for i in items] == [
        ("d", True, 0),
        ("d/x", False, 5),
        ("f", False, 3),
    ]


def test_an_endless_proxy_listing_is_cut(tiny):
    loop = [{"path": "d", "is_dir": True}]
    _fake_mlflow(
        tiny,
        "mlflow-artifacts:/0/r/artifacts/m",
        {"0/r/artifacts/m" + "/d" * depth: loop for depth in range(60)},
    )
    con = MlflowConnector("tiny", tiny.url, http=_http(tiny))
    with pytest.raises(UpstreamError, match="nested deeper than 32"):
        con.list_artifacts("m", "1")


def test_refused_connections_give_up_after_a_few_tries_whatever_the_budget():
    port = free_port()
    http = RegistryHttp("gone", f"http://127.0.0.1:{port}", TOKEN, max_retry_seconds=300)
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="nothing answers at"):
        MlflowConnector("gone", "", http=http).list_models(max_results=10)
    assert time.monotonic() - started < 30
