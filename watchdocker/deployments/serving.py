"""`watch-docker serve`: the deployments of the settings, served by this process (Prefect's
Runner runs each flow run in a subprocess), with the blocks the UI offers registered first, and
a watch for outages (`outage_watch`) and for approvals that timed out (`expired_approvals`)
while it serves."""

from __future__ import annotations

import asyncio
import shlex
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.deployments import run_deployment
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.exceptions import ObjectNotFound, TerminationSignal
from prefect.flows import load_flow_from_entrypoint
from prefect.runner import Runner
from prefect.states import Cancelled
from prefect_docker.credentials import DockerRegistryCredentials
from prefect_docker.host import DockerHost

from watchdocker.blocks.docker_host import DockerHostTLS
from watchdocker.blocks.notifier import AppriseNotifier
from watchdocker.blocks.totp import TotpSecret
from watchdocker.config import Settings
from watchdocker.deployments.expired_approvals import ExpiredApprovals
from watchdocker.deployments.outage_watch import OutageWatch
from watchdocker.deployments.specs import TAGS, DeploymentSpec, deployment_specs
from watchdocker.missed_runs import ScheduledRun, runs_to_skip

BLOCKS = (DockerRegistryCredentials, AppriseNotifier, DockerHost, DockerHostTLS, TotpSecret)


def register_blocks() -> None:
    """So that they can be created in the UI (Blocks -> +) before any code saved one."""
    for block in BLOCKS:
        block.register_type_and_schema()


def runner_deployment(spec: DeploymentSpec, config_file: str | None) -> RunnerDeployment:
    flow: Flow[..., Any] = load_flow_from_entrypoint(spec.entrypoint)
    parameters = dict(spec.parameters)
    if config_file:
        parameters["config_file"] = config_file  # a path: never a secret
    # Prefect types the result as RunnerDeployment | Coroutine (async_dispatch); outside an
    # event loop, as here, it is the deployment.
    return flow.to_deployment(  # type: ignore[return-value]
        name=spec.name,
        interval=spec.interval,
        cron=spec.cron,
        parameters=parameters,
        description=spec.description,
        tags=TAGS,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def skip_missed_runs(deployments: list[RunnerDeployment]) -> int:
    """Cancels the scheduled runs that came due while nobody served them, all but the newest
    of each deployment (see `missed_runs`); how many."""
    skipped = 0
    now = datetime.now(UTC)
    with get_client(sync_client=True) as client:
        for deployment in deployments:
            try:
                found = client.read_deployment_by_name(deployment.full_name)
            except ObjectNotFound:
                continue  # first start: nothing was missed
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    deployment_id=FlowRunFilterDeploymentId(any_=[found.id]),
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])
                    ),
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            )
            scheduled = [
                ScheduledRun(run.id, run.expected_start_time, run.auto_scheduled)
                for run in runs
                if run.expected_start_time
            ]
            for run_id in runs_to_skip(scheduled, now):
                missed = "missed: no serve was running when it was due"
                client.set_flow_run_state(run_id, Cancelled(message=missed), force=True)
                skipped += 1
    return skipped


def _schedule(spec: DeploymentSpec) -> str:
    if spec.cron:
        return f"cron {spec.cron}"
    if not spec.interval:
        return "on demand"
    seconds = int(spec.interval)
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"every {seconds // size}{unit}"
    return f"every {seconds}s"


def serve_hint(specs: list[DeploymentSpec], config_file: str | None) -> list[str]:
    """watch-docker's lines in place of Prefect's banner, whose `prefect deployment run ...`
    fails as written (it knows neither this server's address nor its credential)."""
    config = f" --config {shlex.quote(config_file)}" if config_file else ""
    served = ", ".join(f"{spec.name} ({_schedule(spec)})" for spec in specs)
    commands = [
        f"watch-docker scan{config}",
        f"watch-docker update{config} NAME... | --all [--dry-run]",
        f"watch-docker approvals{config}",
    ]
    return [
        f"watch-docker: serving {served}",
        "watch-docker: run them from the UI (Deployments), or from a shell with the same "
        "settings (they use this server):",
        *(f"    {command}" for command in commands),
    ]


class Companion(Protocol):
    """What runs beside the Runner while serve serves (the HTTP API, for one)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def serve_deployments(
    settings: Settings,
    config_file: str | None,
    api_url: str,
    server_log: Path | None,
    companions: Sequence[Companion] = (),
) -> None:
    register_blocks()
    specs = deployment_specs(settings)
    deployments = [runner_deployment(spec, config_file) for spec in specs]
    if skipped := skip_missed_runs(deployments):
        note = f"skipped {skipped} scheduled runs missed while nobody served"
        print(f"watch-docker: {note}", flush=True)
    if settings.scan.initial_scan_on_start:
        scan = next(d for d in deployments if d.name == "scan")
        scan.apply()
        run_deployment("scan/scan", timeout=0)  # queued now; the runner below picks it up
    watch = OutageWatch(settings, api_url, server_log)
    expired = ExpiredApprovals(settings)
    started: list[Companion] = []
    # Prefect's runner stops from a signal handler without awaiting its coroutine: noise only.
    warnings.filterwarnings("ignore", message="coroutine 'Runner.astop' was never awaited")
    try:
        watch.start()
        expired.start()
        # Prefect's `serve`, with watch-docker's hint in place of its banner. Schedules stay
        # active when this serve stops: another serve on the same server may serve them
        # (Prefect's default pauses them for everyone). Runs missed meanwhile are skipped above.
        runner = Runner(pause_on_shutdown=False)
        for deployment in deployments:
            runner.add_deployment(deployment)  # registered with the server here
        # Once the deployments are registered: the API runs and asks for runs of them.
        for companion in companions:
            companion.start()
            started.append(companion)
        # Printed once the deployments are registered, just before the Runner starts.
        print("\n".join(serve_hint(specs, config_file)), flush=True)
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal):
        pass  # a stop asked for: the finally below and the caller clean up
    finally:
        for companion in started:
            companion.stop()
        watch.stop()  # the local server stops next: that is no outage
        expired.stop()
