"""Answering approval gates (the CLI, serve's API): the runs that wait, and one answer to one run.
Runs inside `prefect_api`; the same resume call as the Prefect UI's form makes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import ArtifactSort
from prefect.exceptions import ObjectNotFound
from prefect.flow_runs import resume_flow_run
from pydantic import BaseModel

from watchdocker.flows.approval import (
    ANSWERS_ARTIFACT,
    PLAN_ARTIFACT,
    is_waiting_for_approval,
    verdict_settled,
)

# A suspended run starts again from the top once answered before it judges the code.
ANSWER_WAIT_SECONDS = 180.0


class PendingApproval(BaseModel):
    flow_run_id: str
    name: str
    containers: list[str]
    waiting_seconds: int
    url_path: str


def _rows(client: SyncPrefectClient, run_id: UUID, key: str) -> list[dict]:
    found = client.read_artifacts(
        artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])
        ),
        sort=ArtifactSort.CREATED_DESC,
        limit=1,
    )
    if not found:
        return []
    data = found[0].data
    if isinstance(data, str):
        import json

        data = json.loads(data)
    return list(data or [])


def pending_approvals() -> list[PendingApproval]:
    paused = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
    )
    pending = []
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_run_filter=paused):
            state = run.state
            key = state.state_details.pause_key if state else None
            if not is_waiting_for_approval(state.type if state else None, key):
                continue
            since = state.timestamp if state and state.timestamp else datetime.now(UTC)
            plan = _rows(client, run.id, PLAN_ARTIFACT)
            pending.append(
                PendingApproval(
                    flow_run_id=str(run.id),
                    name=run.name,
                    containers=[row["container"] for row in plan],
                    waiting_seconds=int((datetime.now(UTC) - since).total_seconds()),
                    url_path=f"/runs/flow-run/{run.id}",
                )
            )
    return pending


class NotWaiting(Exception):
    pass


def answer_approval(run_id: str, approver: str, code: str, reject: bool) -> dict:
    """Resume the run with the answer and wait for its verdict: the new row of its answers
    artifact ({attempt, approver, outcome, reason, at})."""
    try:
        flow_run_id = UUID(run_id)
    except ValueError:
        raise NotWaiting(f"{run_id!r} is not a flow run id") from None
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(flow_run_id)
        except ObjectNotFound:
            raise NotWaiting(f"no flow run {run_id} on this Prefect server") from None
        state = run.state
        key = state.state_details.pause_key if state else None
        if not is_waiting_for_approval(state.type if state else None, key):
            raise NotWaiting(f"flow run {run_id} is not waiting for approval")
        before = len(_rows(client, flow_run_id, ANSWERS_ARTIFACT))
        resume_flow_run(
            flow_run_id, run_input={"approver": approver, "code": code, "approve": not reject}
        )
        deadline = time.monotonic() + ANSWER_WAIT_SECONDS
        while time.monotonic() < deadline:
            rows = _rows(client, flow_run_id, ANSWERS_ARTIFACT)
            if len(rows) > before:
                # After a refused answer, the next one (a person types it at once) must find
                # the run waiting again, not "not waiting for approval".
                _wait_until_settled(client, flow_run_id, rows[-1].get("outcome", ""), deadline)
                return rows[-1]
            time.sleep(0.5)
    raise NotWaiting(
        f"flow run {run_id} took the answer but gave no verdict within {ANSWER_WAIT_SECONDS:g}s"
    )


def _wait_until_settled(
    client: SyncPrefectClient, flow_run_id: UUID, outcome: str, deadline: float
) -> None:
    """Until the run is where its verdict leaves it (verdict_settled), or the deadline."""
    while time.monotonic() < deadline:
        state = client.read_flow_run(flow_run_id).state
        key = state.state_details.pause_key if state else None
        if verdict_settled(outcome, state.type if state else None, key):
            return
        time.sleep(0.25)
