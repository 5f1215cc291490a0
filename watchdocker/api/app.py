"""The FastAPI application of the API: its routes, error handlers and OpenAPI page (`/docs`)."""

from __future__ import annotations

from fastapi import FastAPI

from watchdocker.api.context import ApiContext
from watchdocker.api.errors import install_error_handlers
from watchdocker.api.routes import containers, health, updates


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="watch-docker",
        summary="Keep Docker containers on their newest images, safely.",
        version="0.1.0",
    )
    app.state.context = context
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(containers.router)
    app.include_router(updates.router)
    return app
