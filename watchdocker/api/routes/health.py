"""`/healthz` (the process answers) and `/readyz` (the Docker engine and the Prefect API answer
too); no authentication, for load balancers and orchestrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from watchdocker.api.codes import Code
from watchdocker.api.context import ApiContext, api_context
from watchdocker.api.engine_errors import ENGINE_ERRORS
from watchdocker.api.responses import ApiError, BaseRes, ok
from watchdocker.deployments.prefect_env import api_is_healthy
from watchdocker.engine.client import why

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> BaseRes:
    return ok({"status": "up"})


def _engine_problem(context: ApiContext) -> str | None:
    try:
        context.engine.ping()
    except ENGINE_ERRORS as exc:
        return f"the Docker engine does not answer: {why(exc)}"
    return None


@router.get("/readyz")
async def readyz(context: Annotated[ApiContext, Depends(api_context)]) -> BaseRes:
    problems = []
    if problem := await run_in_threadpool(_engine_problem, context):
        problems.append(problem)
    if not await run_in_threadpool(api_is_healthy, context.prefect_api):
        problems.append(f"the Prefect API does not answer at {context.prefect_api}")
    if problems:
        raise ApiError(Code.NOT_READY, "not ready: " + "; ".join(problems))
    return ok({"docker": "up", "prefect": "up"})
