"""The FastAPI application of the API: its routes, error handlers and OpenAPI pages (`/docs`
and `/redoc`, whose scripts come from the package: nothing is loaded from a CDN)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from watchdocker.api.authn import Authenticator
from watchdocker.api.context import ApiContext
from watchdocker.api.errors import install_error_handlers
from watchdocker.api.middleware import install_middleware
from watchdocker.api.routes import (
    approvals,
    compose,
    containers,
    health,
    images,
    login,
    metrics,
    passkeys,
    twofa,
    updates,
)
from watchdocker.streams.routes import install_streams
from watchdocker.web.console import mount_console


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPIOffline(
        title="watch-docker",
        summary="Keep Docker containers on their newest images, safely.",
        version="0.1.0",
    )
    app.state.context = context
    app.state.authenticator = Authenticator.from_settings(context.settings)
    install_error_handlers(app)
    install_middleware(app, context.settings)
    app.include_router(health.router)
    app.include_router(login.router)
    app.include_router(twofa.router)
    app.include_router(passkeys.router)
    app.include_router(containers.router)
    app.include_router(images.router)
    app.include_router(metrics.router)
    app.include_router(updates.router)
    app.include_router(approvals.router)
    install_streams(app)
    app.include_router(compose.router)
    mount_console(app)  # `/` and `/static/` only
    return app
