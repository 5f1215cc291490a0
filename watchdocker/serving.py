"""`watch-docker serve`: the deployments of the settings, served by this process (Prefect's
Runner runs each flow run in a subprocess), with the blocks the UI offers registered first."""

from __future__ import annotations

import warnings

from prefect import serve
from prefect.deployments import run_deployment
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.flows import load_flow_from_entrypoint
from prefect_docker.credentials import DockerRegistryCredentials
from prefect_docker.host import DockerHost

from watchdocker.blocks.docker_host import DockerHostTLS
from watchdocker.blocks.notifier import AppriseNotifier
from watchdocker.blocks.totp import TotpSecret
from watchdocker.config import Settings
from watchdocker.deployments import TAGS, DeploymentSpec, deployment_specs

BLOCKS = (DockerRegistryCredentials, AppriseNotifier, DockerHost, DockerHostTLS, TotpSecret)


def register_blocks() -> None:
    """So that they can be created in the UI (Blocks -> +) before any code saved one."""
    for block in BLOCKS:
        block.register_type_and_schema()


def runner_deployment(spec: DeploymentSpec, config_file: str | None) -> RunnerDeployment:
    flow = load_flow_from_entrypoint(spec.entrypoint)
    parameters = dict(spec.parameters)
    if config_file:
        parameters["config_file"] = config_file  # a path: never a secret
    return flow.to_deployment(
        name=spec.name,
        interval=spec.interval,
        cron=spec.cron,
        parameters=parameters,
        description=spec.description,
        tags=TAGS,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def serve_deployments(settings: Settings, config_file: str | None) -> None:
    register_blocks()
    deployments = [runner_deployment(spec, config_file) for spec in deployment_specs(settings)]
    if settings.scan.initial_scan_on_start:
        scan = next(d for d in deployments if d.name == "scan")
        scan.apply()
        run_deployment("scan/scan", timeout=0)  # queued now; the runner below picks it up
    # Prefect's runner stops from a signal handler without awaiting its coroutine: noise only.
    warnings.filterwarnings("ignore", message="coroutine 'Runner.astop' was never awaited")
    serve(*deployments, print_starting_message=True)
