"""The checks every connector makes on a ``path`` given to ``open_download``, and the MLflow
URIs such a path may be (``models:/`` and ``runs:/``), read in one place.

A path names a file of a registry only when it is on the registry's own origin, under its
base URL and without credentials (its token goes nowhere else), and when its file path stays
inside the folder it names. Anything else is refused with InvalidArtifactPath before any
request is made, in one message format that says which registry refused it and why. The URI
readers only split a URI into its parts; the file path they return is checked by
``ArtifactPathChecks.relative_file``, and a URI they do not read is refused by the connector
in its own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from wallaroo_registry_ui.server.connectors.base import InvalidArtifactPath
from wallaroo_registry_ui.server.connectors.http import RegistryHttp, origin_of

SHOWN_PATH_LIMIT = 300
MODELS_SCHEME = "models:/"
RUNS_SCHEME = "runs:/"
VERSION_NUMBER = re.compile(r"[0-9]+")
LOGGED_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
RUN_ID = re.compile(r"[0-9A-Za-z_-]+")


@dataclass(frozen=True)
class VersionFile:
    """``models:/<model_name>/<version>/<file>``: a file of a registered model's version."""

    model_name: str
    version: str
    file: str


@dataclass(frozen=True)
class LoggedModelFile:
    """``models:/m-<id>/<file>``: a file of an MLflow 3 logged model (``file`` may be "")."""

    model_id: str
    file: str


@dataclass(frozen=True)
class RunFile:
    """``runs:/<run_id>/<file>``: a file (or folder) in a run's artifacts."""

    run_id: str
    file: str


def version_file_uri(uri: str) -> VersionFile | None:
    """The parts of a ``models:/<name>/<version>/<file>`` URI; None for anything else."""
    if not uri.startswith(MODELS_SCHEME):
        return None
    name, _, rest = uri[len(MODELS_SCHEME) :].partition("/")
    version, _, file = rest.partition("/")
    if not name or not VERSION_NUMBER.fullmatch(version):
        return None
    return VersionFile(name, version, file)


def logged_model_uri(uri: str) -> LoggedModelFile | None:
    """The parts of a ``models:/m-<id>[/<file>]`` URI; None for anything else."""
    if not uri.startswith(MODELS_SCHEME):
        return None
    model_id, _, file = uri[len(MODELS_SCHEME) :].partition("/")
    return LoggedModelFile(model_id, file) if LOGGED_MODEL_ID.fullmatch(model_id) else None


def run_uri(uri: str) -> RunFile | None:
    """The parts of a ``runs:/<run_id>[/<file>]`` URI; None for anything else."""
    if not uri.startswith(RUNS_SCHEME):
        return None
    run_id, _, file = uri[len(RUNS_SCHEME) :].partition("/")
    return RunFile(run_id, file) if RUN_ID.fullmatch(run_id) else None


class ArtifactPathChecks:
    """The path checks of one registry, named in refusals as ``<kind> registry '<name>'``."""

    def __init__(self, http: RegistryHttp, kind: str, registry_name: str) -> None:
        self._http = http
        self._registry = f"{kind} registry '{registry_name}'"

    def invalid(self, path: str, reason: str) -> InvalidArtifactPath:
        """The refusal of ``path``, shortened and with the token masked: a user may echo it."""
        if len(path) > SHOWN_PATH_LIMIT:
            path = path[: SHOWN_PATH_LIMIT - 1] + "…"
        return InvalidArtifactPath(
            f"path {self._http.redact(path)!r} is not a file of {self._registry}: {reason}"
        )

    def given(self, path: object) -> str:
        """``path`` when it is text with something in it."""
        if not isinstance(path, str) or not path.strip():
            raise self.invalid(str(path), "it is empty")
        return path

    def is_web_url(self, path: str) -> bool:
        """True for an http(s) URL; a URL the parser rejects (``http://[::1``) is refused."""
        try:
            scheme = urlsplit(path).scheme
        except ValueError:
            raise self.invalid(path, "it is not a valid URL") from None
        return scheme.lower() in ("http", "https")

    def route(self, path: str) -> tuple[str, str]:
        """(path below the base URL, raw query) of a URL of this registry's own."""
        parts = urlsplit(path)
        origin = self._http.origin
        if origin_of(path) != origin:
            where = origin_of(path) or "another host"
            raise self.invalid(path, f"it is on {where}, not on {origin}")
        if parts.username is not None or parts.password is not None:
            raise self.invalid(path, "it carries credentials")
        base_url = self._http.base_url
        base_path = urlsplit(base_url).path.rstrip("/")
        if not parts.path.startswith(f"{base_path}/"):
            raise self.invalid(path, f"it is not under {base_url}")
        return parts.path[len(base_path) :], parts.query

    def one_value(self, path: str, query: dict[str, list[str]], key: str) -> str:
        """The one non-empty value of ``key`` in a parsed query; a repeated key is ambiguous."""
        values = query.get(key, [])
        if len(values) != 1 or not values[0]:
            raise self.invalid(path, f"it needs exactly one '{key}' query parameter")
        return values[0]

    def relative_file(self, path: str, rel: str) -> str:
        """``rel`` when it names a file below its folder; traversal and oddities refused.

        A backslash or NUL could be read as a separator or an end by the server's file system.
        """
        segments = rel.split("/")
        if ".." in segments:
            raise self.invalid(path, "it climbs out of its folder ('..')")
        if not rel or rel.endswith("/"):
            raise self.invalid(path, "it names no file")
        if any(segment in ("", ".") for segment in segments):
            raise self.invalid(path, "it has an empty or '.' segment")
        if "\\" in rel or "\x00" in rel:
            raise self.invalid(path, "it contains a backslash or a NUL character")
        return rel

    def absolute_file(self, path: str, value: str) -> str:
        """``value`` when it is ``/`` and then a file path that passes ``relative_file``."""
        if not value.startswith("/"):
            raise self.invalid(path, "its file path does not start with '/'")
        return "/" + self.relative_file(path, value[1:])
