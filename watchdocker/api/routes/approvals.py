"""The update runs that wait for an approver (`GET /api/approvals`) and an answer to one
(`POST /api/updates/{flowRunId}/approve`): the same resume, with the approver's TOTP code, as
`watch-docker approve` and the Prefect UI's form; the gate judges the code (its replay guard
and lockout apply), the route only carries it."""

from __future__ import annotations

import logging
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from watchdocker.api.codes import Code
from watchdocker.api.deps import Context, FullUser
from watchdocker.api.responses import ApiError, BaseRes, ok
from watchdocker.deployments.approvals import NotWaiting, answer_approval, pending_approvals

router = APIRouter(tags=["approvals"])
log = logging.getLogger(__name__)


class ApprovalAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    approver: str = Field("default", min_length=1, description="who answers, as enrolled")
    code: str = Field(min_length=1, description="the approver's current TOTP code")
    reject: bool = Field(False, description="reject with the code: nothing changes")


@router.get("/api/approvals")
def list_approvals(_: FullUser, context: Context) -> BaseRes:
    """The update runs waiting for an approver, with their containers and the run's page."""
    waiting = [
        {**p.model_dump(), "url": context.flow_run_url(p.flow_run_id)} for p in pending_approvals()
    ]
    return ok(waiting)


@router.post("/api/updates/{flowRunId}/approve")
def approve_update(
    run_id: Annotated[UUID, Path(alias="flowRunId")],
    answer: ApprovalAnswer,
    user: FullUser,
    context: Context,
) -> BaseRes:
    """Approve (or reject) a waiting update run with an approver's code; answers the gate's
    verdict ({attempt, approver, outcome, reason, at}). A refused code is WRONG_CODE."""
    try:
        verdict = answer_approval(str(run_id), answer.approver, answer.code, answer.reject)
    except NotWaiting as exc:
        raise ApiError(Code.NOT_WAITING, str(exc)) from None
    log.info(
        "approval answer for flow run %s by %s (asked by %s): %s",
        run_id,
        answer.approver,
        user.name,
        verdict.get("outcome"),
    )
    wanted = "rejected" if answer.reject else "approved"
    if verdict.get("outcome") != wanted:
        raise ApiError(
            Code.WRONG_CODE, f"{verdict.get('outcome')}: {verdict.get('reason')}", verdict
        )
    return ok({**verdict, "url": context.flow_run_url(str(run_id))}, str(verdict.get("reason")))
