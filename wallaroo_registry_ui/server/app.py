"""The FastAPI application: the services it shares, its error handlers and its routers."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select

from wallaroo_registry_ui._version import __version__
from wallaroo_registry_ui.server.artifacts import ArtifactStore
from wallaroo_registry_ui.server.connection_pools import ConnectionPools
from wallaroo_registry_ui.server.deps import Services
from wallaroo_registry_ui.server.errors import install_error_handlers, log
from wallaroo_registry_ui.server.routes import config, models, registries, workspaces
from wallaroo_registry_ui.server.secrets import TokenCipher
from wallaroo_registry_ui.server.settings import Settings
from wallaroo_registry_ui.server.store import ModelVersion, open_store


def create_app(settings: Settings) -> FastAPI:

    app = FastAPI(title="wallaroo-registry-ui", version=__version__, docs_url=None, redoc_url=None)
    sessions = open_store(settings.database_url)
    artifacts = ArtifactStore(settings.artifacts_dir)
    with sessions() as session:
        removed = artifacts.sweep(set(session.scalars(select(ModelVersion.version))))
    if removed:
        log.warning("removed %d unfinished upload(s) left in %s", removed, artifacts.root)
    app.state.services = Services(
        sessions=sessions,
        cipher=TokenCipher.from_environment(settings.key_file),
        artifacts=artifacts,
        connections=ConnectionPools(),
    )
    install_error_handlers(app)
    app.include_router(config.router, prefix="/v1/api")
    app.include_router(workspaces.router, prefix="/v1/api/workspaces")
    app.include_router(registries.router, prefix="/v1/api/models")
    app.include_router(models.router, prefix="/v1/api/models")
    return app
