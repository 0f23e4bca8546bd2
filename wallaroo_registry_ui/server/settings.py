"""Where the service keeps its data and how it runs uploads, from flags first, then the
environment, then the defaults.

Every setting has an environment variable, so ``serve --workers N`` can hand the settings it
resolved to worker processes that build their app from the environment alone.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wallaroo_registry_ui.server.connectors.egress import EgressPolicy, HostRule

DATA_DIR_ENV = "WALLAROO_REGISTRY_DATA_DIR"
DATABASE_URL_ENV = "WALLAROO_REGISTRY_DATABASE_URL"
SECRET_KEY_ENV = "WALLAROO_REGISTRY_SECRET_KEY"
SECRET_KEY_FILE_ENV = "WALLAROO_REGISTRY_SECRET_KEY_FILE"
MAX_UPLOADS_ENV = "WALLAROO_REGISTRY_MAX_UPLOADS"
UPLOAD_LEASE_ENV = "WALLAROO_REGISTRY_UPLOAD_LEASE_SECONDS"
UPLOAD_RETRY_ENV = "WALLAROO_REGISTRY_UPLOAD_RETRY_SECONDS"
UPLOAD_ATTEMPTS_ENV = "WALLAROO_REGISTRY_UPLOAD_MAX_ATTEMPTS"
ARTIFACTS_DIR_ENV = "WALLAROO_REGISTRY_ARTIFACTS_DIR"
MAX_UPLOAD_SIZE_ENV = "WALLAROO_REGISTRY_MAX_UPLOAD_SIZE"
LISTING_DEADLINE_ENV = "WALLAROO_REGISTRY_LISTING_DEADLINE_SECONDS"
PREVIEW_DEADLINE_ENV = "WALLAROO_REGISTRY_PREVIEW_DEADLINE_SECONDS"
CALLS_PER_USER_ENV = "WALLAROO_REGISTRY_CALLS_PER_USER"
MAX_REGISTRY_CALLS_ENV = "WALLAROO_REGISTRY_MAX_REGISTRY_CALLS"
ALLOW_HOSTS_ENV = "WALLAROO_REGISTRY_ALLOW_HOSTS"
REGISTRY_HOSTS_ENV = "WALLAROO_REGISTRY_HOSTS"
LISTEN_HOST_ENV = "WALLAROO_REGISTRY_LISTEN_HOST"
HUB_ENV = "WALLAROO_REGISTRY_JUPYTERHUB"
HUB_CACHE_ENV = "WALLAROO_REGISTRY_HUB_CACHE_SECONDS"
HUB_GROUPS_ENV = "WALLAROO_REGISTRY_HUB_GROUP_WORKSPACES"
HUB_SERVICE_NAME_ENV = "JUPYTERHUB_SERVICE_NAME"
HUB_API_URL_ENV = "JUPYTERHUB_API_URL"
HUB_API_TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
MAX_HUB_CACHE_SECONDS = 60.0
DEFAULT_DATA_DIR = Path.home() / ".wallaroo-registry-ui"

PRIVATE_DIR_MODE = 0o700

log = logging.getLogger("wallaroo_registry_ui.server")

MAX_UPLOADS_LIMIT = 64
MIN_LEASE_SECONDS = 1.0
DEFAULT_MAX_UPLOAD_SIZE = 20 << 30
MAX_REGISTRY_CALLS_LIMIT = 32


@dataclass(frozen=True)
class UploadSettings:
    """How one process runs uploads.

    ``max_uploads`` transfers at once; ``lease_seconds`` is how long an upload stays claimed
    by a process that stopped renewing it; a failing upload is retried for at most
    ``retry_seconds`` and ``max_attempts`` attempts.
    """

    max_uploads: int = 4
    lease_seconds: float = 30.0
    retry_seconds: float = 300.0
    max_attempts: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.max_uploads <= MAX_UPLOADS_LIMIT:
            raise ValueError(
                f"--max-uploads ({MAX_UPLOADS_ENV}): must be between 1 and {MAX_UPLOADS_LIMIT}"
            )
        if self.lease_seconds < MIN_LEASE_SECONDS:
            raise ValueError(f"{UPLOAD_LEASE_ENV}: must be at least {MIN_LEASE_SECONDS:g}")
        if self.retry_seconds < 0:
            raise ValueError(f"{UPLOAD_RETRY_ENV}: must not be negative")
        if self.max_attempts < 1:
            raise ValueError(f"{UPLOAD_ATTEMPTS_ENV}: must be at least 1")


@dataclass(frozen=True)
class Limits:
    """What one call may cost the service.

    ``max_upload_size`` bytes per uploaded file (``serve --max-upload-size``). A call that
    talks to a registry for a person waiting on it ends after ``listing_deadline`` seconds
    (listings, an upload's size check) or ``preview_deadline`` seconds (a file's first
    bytes), however the registry trickles; each user has at most ``calls_per_user`` such
    calls running, the process at most ``max_registry_calls`` (kept under the server's
    40 worker threads, so calls that need no registry always find one).
    """

    max_upload_size: int = DEFAULT_MAX_UPLOAD_SIZE
    listing_deadline: float = 60.0
    preview_deadline: float = 30.0
    calls_per_user: int = 4
    max_registry_calls: int = 24

    def __post_init__(self) -> None:
        if self.max_upload_size < 1:
            raise ValueError(f"--max-upload-size ({MAX_UPLOAD_SIZE_ENV}): must be at least 1 byte")
        for name, value in (
            (LISTING_DEADLINE_ENV, self.listing_deadline),
            (PREVIEW_DEADLINE_ENV, self.preview_deadline),
        ):
            if value <= 0:
                raise ValueError(f"{name}: must be a positive number of seconds")
        if self.calls_per_user < 1:
            raise ValueError(f"{CALLS_PER_USER_ENV}: must be at least 1")
        if not 1 <= self.max_registry_calls <= MAX_REGISTRY_CALLS_LIMIT:
            raise ValueError(
                f"{MAX_REGISTRY_CALLS_ENV}: must be between 1 and {MAX_REGISTRY_CALLS_LIMIT}"
            )


@dataclass(frozen=True)
class EgressSettings:
    """Where the service may connect (``connectors/egress.py`` holds the rules):
    ``allow_hosts`` lifts refusals, a non-empty ``registry_hosts`` allows only those,
    ``listen_host`` is the address the service listens on (refused as its own)."""

    allow_hosts: tuple[str, ...] = ()
    registry_hosts: tuple[str, ...] = ()
    listen_host: str | None = None

    def __post_init__(self) -> None:
        self._rules()

    def policy(self) -> EgressPolicy:
        """The rules these settings make (the listen host resolved now)."""
        from wallaroo_registry_ui.server.connectors.egress import EgressPolicy, own_addresses

        allow, registry_hosts = self._rules()
        return EgressPolicy(allow, registry_hosts, own_addresses(self.listen_host))

    def _rules(self) -> tuple[tuple[HostRule, ...], tuple[HostRule, ...]]:
        """Both lists parsed; ValueError naming the flag and variable of a bad entry.
        (The connectors import the secrets, which import these settings: imported here.)"""
        from wallaroo_registry_ui.server.connectors.egress import (
            ALLOW_FLAG,
            HOSTS_FLAG,
            parse_host_rules,
        )

        return (
            parse_host_rules(self.allow_hosts, f"{ALLOW_FLAG} ({ALLOW_HOSTS_ENV})"),
            parse_host_rules(self.registry_hosts, f"{HOSTS_FLAG} ({REGISTRY_HOSTS_ENV})"),
        )


@dataclass(frozen=True)
class HubSettings:
    """Sign-in by a JupyterHub (``serve --jupyterhub``): the hub's API, this service's name
    there (the scope ``access:services!service=<name>`` a token needs), how long the hub's
    answer about a token is trusted (at most a minute, so a revoked token stops working
    soon), and whether hub groups are workspaces. The service's own hub token is not kept:
    asking the hub about a user's token needs only that token."""

    api_url: str
    service_name: str
    cache_seconds: float = MAX_HUB_CACHE_SECONDS
    group_workspaces: bool = False

    def __post_init__(self) -> None:
        if not self.api_url.startswith(("http://", "https://")):
            raise ValueError(f"{HUB_API_URL_ENV}: must be the hub's API URL (http:// or https://)")
        if not self.service_name:
            raise ValueError(f"{HUB_SERVICE_NAME_ENV}: must name this service in the hub")
        if not 0 < self.cache_seconds <= MAX_HUB_CACHE_SECONDS:
            raise ValueError(
                f"{HUB_CACHE_ENV}: must be more than 0 and at most "
                f"{MAX_HUB_CACHE_SECONDS:g} seconds"
            )

    @property
    def scope(self) -> str:
        return f"access:services!service={self.service_name}"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    uploads: UploadSettings = field(default_factory=UploadSettings)
    secret_key_file: Path | None = None
    """Where the key of the registry tokens is, when not beside the database."""
    limits: Limits = field(default_factory=Limits)
    artifacts_root: Path | None = None
    """Where uploaded files live when not in the data dir (a disk of their own, say)."""
    egress: EgressSettings = field(default_factory=EgressSettings)
    hub: HubSettings | None = None
    """Set when users sign in with their JupyterHub tokens too."""

    @property
    def artifacts_dir(self) -> Path:
        return self.artifacts_root or self.data_dir / "artifacts"

    @property
    def key_file(self) -> Path:
        return self.secret_key_file or self.data_dir / "secret.key"


def resolve_settings(
    data_dir: str | None = None,
    database_url: str | None = None,
    max_uploads: int | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    secret_key_file: str | None = None,
    max_upload_size: str | None = None,
    allow_registry_hosts: Sequence[str] | None = None,
    registry_hosts: Sequence[str] | None = None,
    listen_host: str | None = None,
    jupyterhub: bool = False,
    hub_group_workspaces: bool = False,
) -> Settings:
    """Flags win over environment variables, which win over the defaults.

    The data dir is made private to its owner (see ``make_private_dir``). Raises ValueError
    naming the variable or flag when a value is unusable.
    """
    env = os.environ if environ is None else environ
    directory = Path(data_dir or env.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).expanduser()
    directory = directory.resolve()
    make_private_dir(directory)
    key_file = secret_key_file or env.get(SECRET_KEY_FILE_ENV, "").strip()
    url = database_url or env.get(DATABASE_URL_ENV) or f"sqlite:///{directory / 'registry.db'}"
    defaults = UploadSettings()
    values = {
        "max_uploads": (
            max_uploads
            if max_uploads is not None
            else _number(env, MAX_UPLOADS_ENV, int, defaults.max_uploads)
        ),
        "lease_seconds": _number(env, UPLOAD_LEASE_ENV, float, defaults.lease_seconds),
        "retry_seconds": _number(env, UPLOAD_RETRY_ENV, float, defaults.retry_seconds),
        "max_attempts": _number(env, UPLOAD_ATTEMPTS_ENV, int, defaults.max_attempts),
    }
    limits = Limits(
        max_upload_size=parse_size(
            max_upload_size or env.get(MAX_UPLOAD_SIZE_ENV, "").strip() or "20GiB",
            "--max-upload-size" if max_upload_size else MAX_UPLOAD_SIZE_ENV,
        ),
        listing_deadline=_number(env, LISTING_DEADLINE_ENV, float, Limits.listing_deadline),
        preview_deadline=_number(env, PREVIEW_DEADLINE_ENV, float, Limits.preview_deadline),
        calls_per_user=_number(env, CALLS_PER_USER_ENV, int, Limits.calls_per_user),
        max_registry_calls=_number(env, MAX_REGISTRY_CALLS_ENV, int, Limits.max_registry_calls),
    )
    egress = EgressSettings(
        allow_hosts=_hosts(allow_registry_hosts, env, ALLOW_HOSTS_ENV),
        registry_hosts=_hosts(registry_hosts, env, REGISTRY_HOSTS_ENV),
        listen_host=listen_host or env.get(LISTEN_HOST_ENV) or None,
    )
    artifacts = env.get(ARTIFACTS_DIR_ENV, "").strip()
    return Settings(
        data_dir=directory,
        database_url=url,
        uploads=UploadSettings(**values),
        secret_key_file=Path(key_file).expanduser().resolve() if key_file else None,
        limits=limits,
        artifacts_root=Path(artifacts).expanduser().resolve() if artifacts else None,
        egress=egress,
        hub=_hub(env, jupyterhub, hub_group_workspaces),
    )


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _hub(env: Mapping[str, str], asked: bool, group_workspaces: bool) -> HubSettings | None:
    """Hub sign-in when asked (flag or variable), or when the hub started this service
    (its name and token in the environment)."""
    managed = bool(env.get(HUB_SERVICE_NAME_ENV) and env.get(HUB_API_TOKEN_ENV))
    if not (asked or _flag(env, HUB_ENV) or managed):
        return None
    api_url = env.get(HUB_API_URL_ENV, "").strip()
    if not api_url:
        raise ValueError(
            f"--jupyterhub needs {HUB_API_URL_ENV} (the hub's API, "
            f"e.g. http://127.0.0.1:8081/hub/api) and {HUB_SERVICE_NAME_ENV}"
        )
    return HubSettings(
        api_url=api_url.rstrip("/"),
        service_name=env.get(HUB_SERVICE_NAME_ENV, "").strip(),
        cache_seconds=_number(env, HUB_CACHE_ENV, float, MAX_HUB_CACHE_SECONDS),
        group_workspaces=group_workspaces or _flag(env, HUB_GROUPS_ENV),
    )


def hub_environment(settings: Settings) -> dict[str, str]:
    """The variables from which ``resolve_settings`` gives back ``settings.hub``."""
    hub = settings.hub
    if hub is None:
        return {HUB_ENV: ""}
    return {
        HUB_ENV: "1",
        HUB_API_URL_ENV: hub.api_url,
        HUB_SERVICE_NAME_ENV: hub.service_name,
        HUB_CACHE_ENV: repr(hub.cache_seconds),
        HUB_GROUPS_ENV: "1" if hub.group_workspaces else "",
    }


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment from which ``resolve_settings`` gives back ``settings``."""
    uploads = settings.uploads
    environment = {
        DATA_DIR_ENV: str(settings.data_dir),
        DATABASE_URL_ENV: settings.database_url,
        MAX_UPLOADS_ENV: str(uploads.max_uploads),
        UPLOAD_LEASE_ENV: repr(uploads.lease_seconds),
        UPLOAD_RETRY_ENV: repr(uploads.retry_seconds),
        UPLOAD_ATTEMPTS_ENV: str(uploads.max_attempts),
        **limits_environment(settings),
        ALLOW_HOSTS_ENV: ",".join(settings.egress.allow_hosts),
        REGISTRY_HOSTS_ENV: ",".join(settings.egress.registry_hosts),
        LISTEN_HOST_ENV: settings.egress.listen_host or "",
        **hub_environment(settings),
    }
    if settings.secret_key_file is not None:
        environment[SECRET_KEY_FILE_ENV] = str(settings.secret_key_file)
    return environment


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` readable by its owner only (0700), or tighten one that others
    can read or enter: it holds the database and the uploaded models, and by default the key.

    A folder this process cannot change (someone else's) is left as it is, with a warning.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    mode = stat.S_IMODE(directory.stat().st_mode)
    if not mode & 0o077:
        return
    try:
        directory.chmod(mode & ~0o077)
    except OSError as exc:
        log.warning(
            "the data dir %s can be read by other users (mode %o) and could not be "
            "made private: %s",
            directory, mode, exc.strerror or type(exc).__name__,
        )  # fmt: skip
        return
    log.warning(
        "the data dir %s could be read by other users (mode %o); it is now %o",
        directory, mode, mode & ~0o077,
    )  # fmt: skip


def limits_environment(settings: Settings) -> dict[str, str]:
    limits = settings.limits
    env = {
        MAX_UPLOAD_SIZE_ENV: str(limits.max_upload_size),
        LISTING_DEADLINE_ENV: repr(limits.listing_deadline),
        PREVIEW_DEADLINE_ENV: repr(limits.preview_deadline),
        CALLS_PER_USER_ENV: str(limits.calls_per_user),
        MAX_REGISTRY_CALLS_ENV: str(limits.max_registry_calls),
    }
    if settings.artifacts_root is not None:
        env[ARTIFACTS_DIR_ENV] = str(settings.artifacts_root)
    return env


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)b?", re.IGNORECASE)


def parse_size(text: str, name: str) -> int:
    """Bytes from ``20GiB``, ``500MB``, ``1.5G`` or ``1048576`` (binary units with ``i``,
    decimal without; a bare ``G`` is taken as GiB, as ``df -h`` prints it)."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{name}: {text[:40]!r} is not a size (say 20GiB, 500MB or bytes)")
    number, unit, binary = match.groups()
    power = "kmgtp".find(unit.lower()) + 1 if unit else 0
    said_b = text.strip().lower().endswith("b")
    base = 1024 if binary or (unit and not said_b) else 1000
    return int(float(number) * base**power)


def _hosts(given: Sequence[str] | None, env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """HOST_OR_CIDR entries: the flags' when any were given (an empty one is an error),
    else the variable's (comma-separated, empty items skipped)."""
    if given is not None:
        return tuple(entry.strip() for entry in given)
    return tuple(entry.strip() for entry in env.get(name, "").split(",") if entry.strip())


def _number(env: Mapping[str, str], name: str, kind: type, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        wanted = "an integer" if kind is int else "a number"
        raise ValueError(f"{name}: {raw[:40]!r} is not {wanted}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name}: must be a finite number")
    return value
