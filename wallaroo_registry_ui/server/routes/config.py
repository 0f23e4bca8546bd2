"""``GET /v1/api/config``: what the Wallaroo SDK asks for when it starts, without auth."""

from __future__ import annotations

from fastapi import APIRouter

from wallaroo_registry_ui._version import __version__

router = APIRouter()


@router.get("/config")
def config() -> dict:
    return {"default_arch": "x86", "version": __version__, "server": "wallaroo-registry-ui"}
