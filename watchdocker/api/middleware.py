"""CORS (off unless `server.corsOrigins` lists origins) and the request log: one line per
request with the seed's fields (component=api, action=`METHOD path`, status, durationMs, user,
client). Never headers, query strings or bodies: they carry tokens, passwords and codes."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware

from watchdocker.config import Settings
from watchdocker.logs import elapsed_ms, log_event

log = logging.getLogger("watchdocker.api.requests")


async def log_request(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    log_event(
        log,
        logging.INFO,
        "request",
        component="api",
        action=f"{request.method} {request.url.path}",
        status=response.status_code,
        durationMs=elapsed_ms(started),
        user=getattr(request.state, "user", None),
        client=request.client.host if request.client else None,
    )
    return response


def install_middleware(app: FastAPI, settings: Settings) -> None:
    # Prefect's logging setup leaves other loggers at WARNING: the request log follows
    # logging.level instead.
    logging.getLogger("watchdocker.api").setLevel(settings.logging.level.upper())
    app.middleware("http")(log_request)
    if settings.server.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.server.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
