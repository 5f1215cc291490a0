"""`/api/containers`: the list (the latest scan merged with the engine's live state; with
`refresh=true` a scan first, as a run of the `scan` deployment in serve's process), start, stop
and remove. `{id}` is a container id, a unique id prefix or a name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from watchdocker.api.codes import Code
from watchdocker.api.context import ApiContext
from watchdocker.api.deps import Context, FullUser
from watchdocker.api.engine_errors import docker_errors
from watchdocker.api.responses import ApiError, BaseRes, ok, ok_json
from watchdocker.container_list import merge_with_live
from watchdocker.deployments.deployment_runs import run_here
from watchdocker.engine.inventory import LiveContainer, find_container, list_live_containers
from watchdocker.flows.scan import scan
from watchdocker.scan_store import load_scan
from watchdocker.singleflight import SingleFlight

router = APIRouter(prefix="/api", tags=["containers"])
# Refreshes asked while a scan runs wait for it rather than start another.
_scans: SingleFlight[None] = SingleFlight()
# Lists asked while the engine lists its containers share that answer: under load, one call
# at a time rather than one per request (the engine serialises them anyway).
_listings: SingleFlight[list[LiveContainer]] = SingleFlight()


SCAN_DEPLOYMENT = "scan/scan"


def run_scan(context: ApiContext, include_stopped: bool | None) -> None:
    """A run of serve's `scan` deployment in this thread (in the UI like any run of it); it
    saves its result where the list reads it. Raises ApiError(SCAN_FAILED) with the reason."""
    end = run_here(SCAN_DEPLOYMENT, scan, {"include_stopped": include_stopped})
    if end.problem or end.result is None:
        url = context.flow_run_url(str(end.run_id))
        raise ApiError(Code.SCAN_FAILED, f"scan: {end.problem or 'no result'} ({url})")


def container_list(context: ApiContext, include_stopped: bool | None = None) -> dict[str, Any]:
    with docker_errors(Code.CONTAINER_NOT_FOUND):
        live = _listings.do(context.engine_id, lambda: list_live_containers(context.engine))
        saved = load_scan(context.settings.state_dir, context.engine_id)
    if include_stopped is False:
        live = [container for container in live if container.running]
    scanned_at = datetime.fromtimestamp(saved.scanned_at, UTC).isoformat() if saved else None
    return {"scannedAt": scanned_at, "containers": merge_with_live(saved, live)}


@router.get("/containers", response_model=BaseRes)
def list_containers(
    _: FullUser,
    context: Context,
    refresh: bool = False,
    include_stopped: Annotated[bool | None, Query(alias="includeStopped")] = None,
) -> Response:
    """The latest scan's result merged with the engine's live state (a container the scan did
    not see has status `unknown`); `refresh=true` runs a scan first. `includeStopped=false`
    lists running containers only (and so scans only them), `true` scans stopped ones too;
    absent, every container is listed and the scan follows `docker.includeStopped`."""
    if refresh:
        _scans.do(
            f"{context.engine_id}/{include_stopped}", lambda: run_scan(context, include_stopped)
        )
    return ok_json(container_list(context, include_stopped))


def _container(context: ApiContext, given: str) -> LiveContainer:
    return find_container(list_live_containers(context.engine), given)


def _now(context: ApiContext, container: LiveContainer) -> dict[str, Any]:
    state = context.engine.api.inspect_container(container.id)["State"]
    return {
        "id": container.id,
        "name": container.name,
        "running": bool(state.get("Running")),
        "state": state.get("Status", ""),
    }


def _start_or_stop(context: ApiContext, given: str, action: Literal["start", "stop"]) -> BaseRes:
    with docker_errors(Code.CONTAINER_NOT_FOUND):
        container = _container(context, given)
        getattr(context.engine.api, action)(container.id)
        done = {"start": "started", "stop": "stopped"}[action]
        return ok(_now(context, container), msg=f"{done} {container.name}")


@router.post("/containers/{id}/start")
def start_container(id: str, _: FullUser, context: Context) -> BaseRes:
    return _start_or_stop(context, id, "start")


@router.post("/containers/{id}/stop")
def stop_container(id: str, _: FullUser, context: Context) -> BaseRes:
    return _start_or_stop(context, id, "stop")


@router.delete("/containers/{id}")
def remove_container(id: str, _: FullUser, context: Context, force: bool = False) -> BaseRes:
    """Refuses a running container unless `force=true` (which kills it first)."""
    with docker_errors(Code.CONTAINER_NOT_FOUND):
        container = _container(context, id)
        if container.running and not force:
            raise ApiError(
                Code.CONTAINER_RUNNING,
                f"{container.name} is running: stop it first, or add ?force=true",
            )
        context.engine.api.remove_container(container.id, force=force)
    return ok({"id": container.id, "name": container.name}, msg=f"removed {container.name}")
