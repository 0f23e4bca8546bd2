"""Where the service keeps its data, read from flags first and the environment second."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "WALLAROO_REGISTRY_DATA_DIR"
DATABASE_URL_ENV = "WALLAROO_REGISTRY_DATABASE_URL"
SECRET_KEY_ENV = "WALLAROO_REGISTRY_SECRET_KEY"
DEFAULT_DATA_DIR = Path.home() / ".wallaroo-registry-ui"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "secret.key"


def resolve_settings(data_dir: str | None = None, database_url: str | None = None) -> Settings:
    """Flags win over environment variables, which win over the defaults."""
    directory = Path(data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).expanduser()
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    url = (
        database_url or os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{directory / 'registry.db'}"
    )
    return Settings(data_dir=directory, database_url=url)
