"""`POST /api/containers/{id}/update` and `POST /api/updates/run`: a run of the `update`
deployment, with the parameters `watch-docker update` gives the flow, so it is served by serve's
Runner, shown in the Prefect UI and held by the same approval gates and concurrency limit.
`?wait=true` (the default) answers with its results, or at once when it waits for approval."""

from __future__ import annotations

import logging
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from watchdocker.api.codes import Code
from watchdocker.api.context import ApiContext
from watchdocker.api.deps import Context, FullUser
from watchdocker.api.engine_errors import docker_errors
from watchdocker.api.responses import ApiError, BaseRes, ok
from watchdocker.deployments.deployment_runs import follow_run, is_run_of, start_run
from watchdocker.engine.discovery import service_names
from watchdocker.engine.inventory import find_container, list_live_containers
from watchdocker.update.plan import UnknownContainers, UpdateReport, require_known

router = APIRouter(tags=["updates"])
log = logging.getLogger(__name__)

UPDATE_DEPLOYMENT = "update/update"
HOW_TO_APPROVE = "watch-docker approvals; watch-docker approve {run} --code CODE --approver NAME"


class UpdateOptions(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    dry_run: bool = Field(False, alias="dryRun", description="only say what would be updated")
    require_approval: bool = Field(
        False, alias="requireApproval", description="wait for an approver's TOTP code first"
    )


class UpdatesRun(UpdateOptions):
    names: list[str] = Field(default_factory=list, description="containers to update")
    all: bool = Field(False, description="every container a scan finds outdated")

    @model_validator(mode="after")
    def _names_or_all(self) -> UpdatesRun:
        if bool(self.names) == self.all:
            raise ValueError("give names (a non-empty list) or all: true, not both")
        return self


def _update(
    context: ApiContext, user: str, names: list[str] | None, options: UpdateOptions, wait: bool
) -> BaseRes:
    if names:
        with docker_errors(Code.CONTAINER_NOT_FOUND):
            present = service_names(context.engine)
        try:
            require_known(names, present)
        except UnknownContainers as exc:
            raise ApiError(Code.CONTAINER_NOT_FOUND, str(exc)) from None
    parameters = {
        "containers": names,
        "all": names is None,
        "dry_run": options.dry_run,
        "require_approval": options.require_approval,
    }
    run_id = start_run(UPDATE_DEPLOYMENT, parameters)
    what = ", ".join(names) if names else "every outdated container"
    log.info("update of %s asked by %s: flow run %s", what, user, run_id)
    if not wait:
        return ok(_run_links(context, run_id), "update run started")
    return _outcome(context, run_id)


def _run_links(context: ApiContext, run_id: UUID) -> dict[str, str]:
    return {"flowRunId": str(run_id), "url": context.flow_run_url(str(run_id))}


def _outcome(context: ApiContext, run_id: UUID) -> BaseRes:
    """Follows the run until it ends (its results) or waits for an approver (answered at once)."""
    started = _run_links(context, run_id)
    end = follow_run(run_id)
    if end.waiting_for_approval:
        how = HOW_TO_APPROVE.format(run=run_id)
        raise ApiError(
            Code.APPROVAL_NEEDED,
            f"the update waits for an approver's code: {how}; or the form at {started['url']}",
            {**started, "approve": how},
        )
    if end.problem or not isinstance(end.result, UpdateReport):
        raise ApiError(Code.UPDATE_FAILED, f"update: {end.problem or 'no results'}", started)
    report: UpdateReport = end.result
    data = {**started, "results": [r.model_dump() for r in report.results]}
    if not report.ok:
        raise ApiError(Code.UPDATE_FAILED, f"update: {report.summary}", data)
    return ok(data, f"update: {report.summary}")


@router.post("/api/updates/run")
def run_updates(body: UpdatesRun, user: FullUser, context: Context, wait: bool = True) -> BaseRes:
    """Update the named containers, or with `all` every container a scan finds outdated."""
    return _update(context, user.name, body.names or None, body, wait)


@router.post("/api/containers/{id}/update")
def update_container(
    ident: Annotated[str, Path(alias="id")],
    user: FullUser,
    context: Context,
    body: UpdateOptions | None = None,
    wait: bool = True,
) -> BaseRes:
    """Update one container: `id` is its id, an id prefix or its name."""
    # Found as the containers routes find it: an id, a unique id prefix or a name.
    with docker_errors(Code.CONTAINER_NOT_FOUND):
        name = find_container(list_live_containers(context.engine), ident).name
    return _update(context, user.name, [name], body or UpdateOptions(), wait)


@router.get("/api/updates/{flowRunId}")
def update_run(
    run_id: Annotated[UUID, Path(alias="flowRunId")], _: FullUser, context: Context
) -> BaseRes:
    """An update run started before (by the API, the UI or a schedule): waits as
    `POST /api/updates/run` does, e.g. after its approval was given."""
    if not is_run_of(run_id, UPDATE_DEPLOYMENT):
        raise ApiError(Code.RUN_NOT_FOUND, f"no update run {run_id}")
    return _outcome(context, run_id)
