"""The FastAPI application: the services it shares, its error handlers, its routers, the
bound on request bodies, and the upload runner process that lives as long as it serves
(started and stopped by its lifespan)."""

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
from wallaroo_registry_ui.server.body_limit import BodyLimit
from wallaroo_registry_ui.server.connection_pools import ConnectionPools
from wallaroo_registry_ui.server.deps import Services
from wallaroo_registry_ui.server.errors import install_error_handlers, log
from wallaroo_registry_ui.server.hub_sign_in import HubSignIn
from wallaroo_registry_ui.server.openapi_errors import install_error_responses
from wallaroo_registry_ui.server.registry_calls import RegistryCallSlots
from wallaroo_registry_ui.server.routes import audit, config, models, registries, workspaces
from wallaroo_registry_ui.server.secrets import TokenCipher
from wallaroo_registry_ui.server.settings import Settings, resolve_settings
from wallaroo_registry_ui.server.store import ModelVersion, Registry, open_store
from wallaroo_registry_ui.server.upload_jobs import UPLOADING
from wallaroo_registry_ui.server.upload_process import UploadProcess


def create_app(settings: Settings) -> FastAPI:
    sessions = open_store(settings.database_url)
    artifacts = ArtifactStore(settings.artifacts_dir)
    removed = artifacts.sweep(functools.partial(known_versions, sessions))
    if removed:
        log.warning("removed %d unfinished upload(s) left in %s", removed, artifacts.root)
    cipher = TokenCipher.from_environment(settings.key_file, encrypted_token_sample(sessions))
    egress = settings.egress.policy()
    runner = UploadProcess(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runner.start()
        try:
            yield
        finally:
            await run_in_threadpool(runner.stop)

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
        limits=settings.limits,
        registry_calls=RegistryCallSlots(
            settings.limits.calls_per_user, settings.limits.max_registry_calls
        ),
        hub=HubSignIn(settings.hub) if settings.hub else None,
    )
    app.add_middleware(BodyLimit)
    install_error_handlers(app)
    install_error_responses(app)
    app.include_router(config.router, prefix="/v1/api")
    app.include_router(workspaces.router, prefix="/v1/api/workspaces")
    app.include_router(registries.router, prefix="/v1/api/models")
    app.include_router(models.router, prefix="/v1/api/models")
    app.include_router(audit.router, prefix="/v1/api/audit")
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


def encrypted_token_sample(sessions: sessionmaker) -> str | None:
    """One registry token as stored (encrypted), to check the key against; None when the
    store holds none yet."""
    with sessions() as session:
        return session.scalar(select(Registry.token_encrypted).limit(1))
