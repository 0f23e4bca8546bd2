"""The FastAPI application: the services it shares, its error handlers, its routers, and the
upload runner that lives as long as it serves (started and stopped by its lifespan)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool

from wallaroo_registry_ui._version import __version__
from wallaroo_registry_ui.server.artifacts import ArtifactStore, KnownVersions
from wallaroo_registry_ui.server.connection_pools import ConnectionPools
from wallaroo_registry_ui.server.deps import Services, open_registry_connector
from wallaroo_registry_ui.server.errors import install_error_handlers, log
from wallaroo_registry_ui.server.routes import config, models, registries, workspaces
from wallaroo_registry_ui.server.secrets import TokenCipher
from wallaroo_registry_ui.server.settings import Settings, resolve_settings
from wallaroo_registry_ui.server.store import ModelVersion, make_engine, open_store
from wallaroo_registry_ui.server.upload_jobs import UPLOADING
from wallaroo_registry_ui.server.upload_runner import UploadRunner

UPLOAD_POOL_SPARE = 2
"""Database connections the upload runner has beyond one per transfer (its loop's)."""


def create_app(settings: Settings) -> FastAPI:
    sessions = open_store(settings.database_url)
    artifacts = ArtifactStore(settings.artifacts_dir)
    removed = artifacts.sweep(functools.partial(known_versions, sessions))
    if removed:
        log.warning("removed %d unfinished upload(s) left in %s", removed, artifacts.root)
    cipher = TokenCipher.from_environment(settings.key_file)
    upload_engine = make_engine(
        settings.database_url, pool_size=settings.uploads.max_uploads + UPLOAD_POOL_SPARE
    )
    egress = settings.egress.policy()
    upload_connections = ConnectionPools(egress)
    runner = UploadRunner(
        sessionmaker(upload_engine, expire_on_commit=False),
        artifacts,
        functools.partial(open_registry_connector, cipher, upload_connections),
        settings.uploads,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runner.start()
        try:
            yield
        finally:
            await run_in_threadpool(runner.stop)
            upload_connections.close()
            upload_engine.dispose()

    app = FastAPI(
        title="wallaroo-registry-ui",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = Services(
        sessions=sessions,
        cipher=cipher,
        artifacts=artifacts,
        connections=ConnectionPools(egress),
        uploads=runner,
    )
    install_error_handlers(app)
    app.include_router(config.router, prefix="/v1/api")
    app.include_router(workspaces.router, prefix="/v1/api/workspaces")
    app.include_router(registries.router, prefix="/v1/api/models")
    app.include_router(models.router, prefix="/v1/api/models")
    return app


def app_from_environment() -> FastAPI:
    """The app of one of ``serve --workers N``'s processes, whose settings come from the
    environment the command set (an app factory for uvicorn)."""
    return create_app(resolve_settings())


def known_versions(sessions: sessionmaker) -> KnownVersions:
    """Every model version's uuid, and those still uploading, for the artifact sweep."""
    with sessions() as session:
        rows = session.execute(select(ModelVersion.version, ModelVersion.status)).all()
    return KnownVersions(
        versions={row.version for row in rows},
        uploading={row.version for row in rows if row.status == UPLOADING},
    )
