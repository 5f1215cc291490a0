"""Runs of serve's deployments asked for through the HTTP API, visible in the Prefect UI as runs
of their deployment. An update is started like a run from the UI, so serve's Runner runs it in a
process of its own, under the same approval gates and concurrency limit; it is followed until it
ends or waits for an approver, and its result read back from Prefect's result storage (local
files under the Prefect home, shared by serve and the flow-run processes it starts: the flows
persist their results). A scan, which a person waits for, runs in serve's own process instead
(`run_here`): no wait for the Runner's next poll, no new process importing Prefect."""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import certifi
import httpx
import prefect.flow_engine
from prefect import Flow
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.context import SettingsContext, SyncClientContext, get_settings_context
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.settings import (
    PREFECT_API_SSL_CERT_FILE,
    PREFECT_API_TLS_INSECURE_SKIP_VERIFY,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    Settings,
)
from prefect.states import Pending

from watchdocker.flows.approval import is_waiting_for_approval

POLL_SECONDS = 0.25
FINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}


@dataclass(frozen=True)
class RunEnd:
    """How a followed run stands: `result` when it completed, `waiting_for_approval` when it
    waits for an approver's code, else `problem` says why it has no result."""

    run_id: UUID
    result: Any = None
    waiting_for_approval: bool = False
    problem: str | None = None


@functools.cache
def _api_tls() -> ssl.SSLContext:
    """The TLS context of the Prefect API, by Prefect's own rules. Its client builds one for
    every client it makes, reading the CA bundle (a quarter of a scan's time through the API);
    serve's API makes it once."""
    if PREFECT_API_TLS_INSECURE_SKIP_VERIFY.value():
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        return unverified
    return ssl.create_default_context(cafile=PREFECT_API_SSL_CERT_FILE.value() or certifi.where())


class _SharedClientContext(SyncClientContext):
    """Prefect's client context, whose client has the shared TLS context. It passes for one
    made with default settings (`_httpx_settings` None), so that every `get_client` inside
    it, Prefect's own included, takes its client instead of making one."""

    def __init__(self) -> None:
        client = get_client(sync_client=True, httpx_settings={"verify": _api_tls()})
        super(SyncClientContext, self).__init__(client=client)


@contextmanager
def prefect_client() -> Iterator[SyncPrefectClient]:
    """A Prefect client that the flow and task runs started inside the block use too."""
    with _SharedClientContext() as context:
        yield context.client


class _QuietSettings:
    """Prefect's settings without the flow-run heartbeat, built once per base settings:
    `temporary_settings` rebuilds them from the environment at every call (a sixth of a scan
    through the API)."""

    def __init__(self) -> None:
        self._built: tuple[Settings, Settings] | None = None  # (base, without heartbeat)

    def of(self, base: Settings) -> Settings:
        built = self._built
        if built is None or built[0] is not base:
            quiet = base.copy_with_update(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
            built = self._built = (base, quiet)
        return built[1]


_QUIET = _QuietSettings()


@contextmanager
def _without_heartbeat() -> Iterator[None]:
    """As the CLI's runs: no heartbeat thread, which would hold the run's end to the next
    second."""
    context = get_settings_context()
    with SettingsContext(profile=context.profile, settings=_QUIET.of(context.settings)):
        yield


@contextmanager
def _no_suspension_watch(
    flow_run_id: UUID, suspension_request: Any, polling_interval: float = 10
) -> Iterator[None]:
    yield


def _without_suspension_watch() -> None:
    """Prefect watches every run of a deployment it executes for a suspension asked from
    elsewhere: a thread, its event loop and an events websocket per run, whose start and stop
    took a quarter of a scan run here (~0.2 s). A run in serve's process lasts seconds and is
    never suspended: its state proposals would be refused anyway if one were asked."""
    prefect.flow_engine.observe_flow_run_suspension = _no_suspension_watch


def start_run(deployment: str, parameters: dict[str, Any]) -> UUID:
    """A run of `deployment` (`flow/deployment`), queued for serve's Runner; its id."""
    run = run_deployment(deployment, parameters=parameters, timeout=0)
    # Prefect types the result as FlowRun | Coroutine (async_dispatch); outside an event loop,
    # as in the API's worker threads, it is the run.
    return run.id  # type: ignore[union-attr]


_deployment_ids: dict[str, UUID] = {}  # by name, as last read


def pending_run_of(
    client: SyncPrefectClient, deployment: str, parameters: dict[str, Any]
) -> FlowRun:
    """A new Pending run of `deployment`. Its id is read once (a round trip of the Prefect API
    per run otherwise), and again when the deployment was made anew since."""
    known = _deployment_ids.get(deployment)
    if known is not None:
        try:
            return client.create_flow_run_from_deployment(
                known, parameters=parameters, state=Pending()
            )
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != httpx.codes.NOT_FOUND:
                raise
    found = _deployment_ids[deployment] = client.read_deployment_by_name(deployment).id
    return client.create_flow_run_from_deployment(found, parameters=parameters, state=Pending())


def run_here(deployment: str, flow: Flow[..., Any], parameters: dict[str, Any]) -> RunEnd:
    """A run of `deployment` executed in this process (`flow` is its flow). Created Pending,
    which the Runner never takes (it takes Scheduled runs), with the deployment's parameters
    merged in by the server as for any run of it."""
    with prefect_client() as client:
        run = pending_run_of(client, deployment, parameters)
        _without_suspension_watch()
        with _without_heartbeat():
            state = prefect.flow_engine.run_flow(
                flow, flow_run=run, parameters=run.parameters, return_type="state"
            )
    if not isinstance(state, State) or not state.is_completed():
        reason = state.message if isinstance(state, State) else None
        return RunEnd(run_id=run.id, problem=f"the run failed: {reason or 'no result'}")
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        return RunEnd(run_id=run.id, problem=f"the run failed: {result}")
    return RunEnd(run_id=run.id, result=result)


def is_run_of(run_id: UUID, deployment: str) -> bool:
    """Whether `run_id` is a run of `deployment` (`flow/deployment`)."""
    with prefect_client() as client:
        try:
            run = client.read_flow_run(run_id)
            found = client.read_deployment_by_name(deployment)
        except ObjectNotFound:
            return False
    return run.deployment_id == found.id


def follow_run(run_id: UUID) -> RunEnd:
    """Waits until the run ends or waits for an approver (a paused run holds no process and may
    wait an hour: it is answered at once)."""
    with prefect_client() as client:
        while True:
            run = client.read_flow_run(run_id)
            state = run.state
            if state is None or state.type not in FINAL:
                key = state.state_details.pause_key if state else None
                if is_waiting_for_approval(state.type if state else None, key):
                    return RunEnd(run_id, waiting_for_approval=True)
                time.sleep(POLL_SECONDS)
                continue
            if state.type != StateType.COMPLETED:
                reason = state.message or state.type.value.lower()
                return RunEnd(run_id, problem=f"the run ended {state.type.value.lower()}: {reason}")
            result = state.result(raise_on_failure=False)
            if isinstance(result, BaseException):
                return RunEnd(run_id, problem=f"the run's result cannot be read: {result}")
            return RunEnd(run_id, result=result)
