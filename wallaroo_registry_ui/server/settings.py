"""Where the service keeps its data and how it runs uploads, from flags first, then the
environment, then the defaults.

Every setting has an environment variable, so ``serve --workers N`` can hand the settings it
resolved to worker processes that build their app from the environment alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wallaroo_registry_ui.server.connectors.egress import EgressPolicy, HostRule

DATA_DIR_ENV = "WALLAROO_REGISTRY_DATA_DIR"
DATABASE_URL_ENV = "WALLAROO_REGISTRY_DATABASE_URL"
SECRET_KEY_ENV = "WALLAROO_REGISTRY_SECRET_KEY"
MAX_UPLOADS_ENV = "WALLAROO_REGISTRY_MAX_UPLOADS"
UPLOAD_LEASE_ENV = "WALLAROO_REGISTRY_UPLOAD_LEASE_SECONDS"
UPLOAD_RETRY_ENV = "WALLAROO_REGISTRY_UPLOAD_RETRY_SECONDS"
UPLOAD_ATTEMPTS_ENV = "WALLAROO_REGISTRY_UPLOAD_MAX_ATTEMPTS"
ALLOW_HOSTS_ENV = "WALLAROO_REGISTRY_ALLOW_HOSTS"
REGISTRY_HOSTS_ENV = "WALLAROO_REGISTRY_HOSTS"
LISTEN_HOST_ENV = "WALLAROO_REGISTRY_LISTEN_HOST"
DEFAULT_DATA_DIR = Path.home() / ".wallaroo-registry-ui"

MAX_UPLOADS_LIMIT = 64
MIN_LEASE_SECONDS = 1.0


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
class Settings:
    data_dir: Path
    database_url: str
    uploads: UploadSettings = field(default_factory=UploadSettings)
    egress: EgressSettings = field(default_factory=EgressSettings)

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "secret.key"


def resolve_settings(
    data_dir: str | None = None,
    database_url: str | None = None,
    max_uploads: int | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    allow_registry_hosts: Sequence[str] | None = None,
    registry_hosts: Sequence[str] | None = None,
    listen_host: str | None = None,
) -> Settings:
    """Flags win over environment variables, which win over the defaults.

    Raises ValueError naming the variable or flag when a value is unusable.
    """
    env = os.environ if environ is None else environ
    directory = Path(data_dir or env.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).expanduser()
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
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
    egress = EgressSettings(
        allow_hosts=_hosts(allow_registry_hosts, env, ALLOW_HOSTS_ENV),
        registry_hosts=_hosts(registry_hosts, env, REGISTRY_HOSTS_ENV),
        listen_host=listen_host or env.get(LISTEN_HOST_ENV) or None,
    )
    return Settings(
        data_dir=directory, database_url=url, uploads=UploadSettings(**values), egress=egress
    )


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment from which ``resolve_settings`` gives back ``settings``."""
    uploads = settings.uploads
    return {
        DATA_DIR_ENV: str(settings.data_dir),
        DATABASE_URL_ENV: settings.database_url,
        MAX_UPLOADS_ENV: str(uploads.max_uploads),
        UPLOAD_LEASE_ENV: repr(uploads.lease_seconds),
        UPLOAD_RETRY_ENV: repr(uploads.retry_seconds),
        UPLOAD_ATTEMPTS_ENV: str(uploads.max_attempts),
        ALLOW_HOSTS_ENV: ",".join(settings.egress.allow_hosts),
        REGISTRY_HOSTS_ENV: ",".join(settings.egress.registry_hosts),
        LISTEN_HOST_ENV: settings.egress.listen_host or "",
    }


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
