"""`GET /api/containers`, minimal (h3's branch has the full route: the latest scan merged with
live state): here every call (`?refresh=true` or not) runs the `scan` deployment, in serve's
process, and answers with its containers as `watch-docker scan --json` lists them (`running`
included)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from watchdocker.api.codes import Code
from watchdocker.api.deps import Context, FullUser
from watchdocker.api.responses import ApiError, BaseRes, ok
from watchdocker.container_status import ScanReport
from watchdocker.deployments.deployment_runs import run_here
from watchdocker.flows.scan import scan

router = APIRouter(tags=["containers"])

SCAN_DEPLOYMENT = "scan/scan"


@router.get("/api/containers")
def list_containers(
    _: FullUser,
    context: Context,
    include_stopped: Annotated[bool | None, Query(alias="includeStopped")] = None,
) -> BaseRes:
    """Every container with its scan status; `includeStopped` as `scan --include-stopped`."""
    end = run_here(SCAN_DEPLOYMENT, scan, {"include_stopped": include_stopped})
    if end.problem or not isinstance(end.result, ScanReport):
        url = context.flow_run_url(str(end.run_id))
        raise ApiError(Code.SCAN_FAILED, f"scan: {end.problem or 'no results'} ({url})")
    return ok([c.model_dump() for c in end.result.containers])
