"""Runs of serve's deployments started on request (the HTTP API's updates and scans): started
like a run from the UI, so they are served by serve's Runner, visible in the Prefect UI and under
the same approval gates and concurrency limit; then followed until they end or wait for an
approver. Their results are read back from Prefect's result storage (local files under the
Prefect home, which serve and the flow-run processes it starts share): the flows persist them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.deployments import run_deployment

from watchdocker.flows.approval import is_waiting_for_approval

POLL_SECONDS = 0.25
FINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}


@dataclass(frozen=True)
class RunEnd:
    """How a followed run stands: `result` when it completed, `waiting_for_approval` when it
    waits for an approver's code, else `problem` says why it has no result."""

    result: Any = None
    waiting_for_approval: bool = False
    problem: str | None = None


def start_run(deployment: str, parameters: dict[str, Any]) -> UUID:
    """A run of `deployment` (`flow/deployment`), queued for serve's Runner; its id."""
    run = run_deployment(deployment, parameters=parameters, timeout=0)
    return run.id


def follow_run(run_id: UUID) -> RunEnd:
    """Waits until the run ends or waits for an approver (a paused run holds no process and may
    wait an hour: it is answered at once)."""
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(run_id)
            state = run.state
            if state is None or state.type not in FINAL:
                key = state.state_details.pause_key if state else None
                if is_waiting_for_approval(state.type if state else None, key):
                    return RunEnd(waiting_for_approval=True)
                time.sleep(POLL_SECONDS)
                continue
            if state.type != StateType.COMPLETED:
                reason = state.message or state.type.value.lower()
                return RunEnd(problem=f"the run ended {state.type.value.lower()}: {reason}")
            result = state.result(raise_on_failure=False)
            if isinstance(result, BaseException):
                return RunEnd(problem=f"the run's result cannot be read: {result}")
            return RunEnd(result=result)
