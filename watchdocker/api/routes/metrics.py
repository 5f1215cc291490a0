"""`GET /metrics` for Prometheus. Open while no user is configured (the API then listens on
loopback only); once one is, it needs a full token like every route beyond loopback."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from watchdocker.api.authn import Auth
from watchdocker.api.deps import Context, any_user, full_user
from watchdocker.api.engine_errors import ENGINE_ERRORS
from watchdocker.api.prometheus import render_metrics
from watchdocker.run_metrics import read_totals
from watchdocker.scan_store import load_scan

router = APIRouter(tags=["metrics"])


def metrics_reader(request: Request, context: Context, auth: Auth) -> None:
    if context.settings.auth.user_configured:
        full_user(any_user(request, context, auth))


@router.get("/metrics", dependencies=[Depends(metrics_reader)], response_class=Response)
def metrics(context: Context) -> Response:
    state_dir = context.settings.state_dir
    try:
        saved = load_scan(state_dir, context.engine_id)
    except ENGINE_ERRORS:
        saved = None  # the engine is down (/readyz says so): the runs' counts still are

    body = render_metrics(read_totals(state_dir), saved)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
