"""A watch `watch-docker serve` keeps for update runs whose wait for approval timed out while
suspended. Such a run holds no process: Prefect's server fails it ("never resumed") and its own
code, which tells people "rejected", never runs again. This thread tells them instead, once
per run: the run gets the tag `watchdocker-rejection-told`, which every serve on the server
sees (two serves looking in the same instant may both tell). It needs the server's
pause-expiration service (`PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED`): without it an
expired run stays suspended and nobody is told."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.utilities.urls import url_for

from watchdocker.approval import APPROVAL_FLOWS, approval_expired, no_answer
from watchdocker.blocks.notifier import configured_notifier
from watchdocker.config import Settings
from watchdocker.flows.approval import PLAN_ARTIFACT
from watchdocker.notify import approval_verdict

log = logging.getLogger(__name__)

CHECK_INTERVAL = 10.0  # seconds; the server fails an expired wait within 5 s
LOOKBACK = timedelta(days=1)  # runs that ended earlier than this are not looked at
TOLD_TAG = "watchdocker-rejection-told"


class ExpiredApprovals:
    def __init__(self, settings: Settings, interval: float = CHECK_INTERVAL) -> None:
        self._settings = settings
        self._interval = interval
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="watch-docker-approvals", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        # One client for the thread's life: a new one each look costs an SSL context.
        with get_client(sync_client=True) as client:
            while not self._stop.wait(self._interval):
                try:
                    self.check(client)
                except Exception as exc:  # the server may be down: the outage watch says so
                    log.debug("expired approvals not checked: %s", type(exc).__name__)

    def check(self, client: SyncPrefectClient) -> int:
        """Tells of each expired wait not told yet; how many."""
        failed = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=list(APPROVAL_FLOWS))),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.FAILED])),
                end_time=FlowRunFilterEndTime(after_=datetime.now(UTC) - LOOKBACK),
            ),
            limit=200,
        )
        expired = [run for run in failed if self._untold_expiry(run)]
        for run in expired:
            client.update_flow_run(run.id, tags=[*run.tags, TOLD_TAG])
        names = {run.id: self._planned_names(client, run.id) for run in expired}
        if not expired:
            return 0
        notifier = configured_notifier(self._settings)
        reason = no_answer(int(self._settings.approval.timeout.total_seconds()))
        for run in expired:
            url = url_for("flow-run", obj_id=run.id) or run.name
            notifier.send(approval_verdict(False, reason, names[run.id], url))
        return len(expired)

    @staticmethod
    def _untold_expiry(run: FlowRun) -> bool:
        state = run.state
        return TOLD_TAG not in run.tags and approval_expired(
            state.type.value if state else None, state.message if state else None
        )

    @staticmethod
    def _planned_names(client: Any, run_id: UUID) -> str:
        """The containers the run asked approval for, from its plan artifact."""
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[PLAN_ARTIFACT]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]),
            ),
            limit=1,
        )
        data = artifacts[0].data if artifacts else None
        rows = json.loads(data) if isinstance(data, str) else data
        if not isinstance(rows, list):
            return "the planned containers"
        return ", ".join(str(row.get("container", "?")) for row in rows if isinstance(row, dict))
