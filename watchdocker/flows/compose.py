"""The `compose` flow: what changes a compose project (`up`, `start`, `stop`, `restart`,
`down`, `delete`), as a flow run in the UI whichever door asked for it. The project is found
and its name checked before the task runs; the task runs the Compose CLI."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import docker
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from watchdocker.config import Settings, load_settings
from watchdocker.flows.clients import engine_for
from watchdocker.stacks.compose_cli import ComposeCli
from watchdocker.stacks.operations import (
    FlowAction,
    StackNotFound,
    StackOutcome,
    act,
    delete,
    find_stack,
)
from watchdocker.stacks.projects import ProjectStatus, Stack


class ComposeRunFailed(Exception):
    """The `compose` run failed: the message is its reason (the Compose CLI's, mostly)."""

    def __init__(self, message: str, flow_run_id: UUID | None) -> None:
        super().__init__(message)
        self.flow_run_id = flow_run_id


@task(name="compose-action", task_run_name="{action} {stack.name}", cache_policy=NO_CACHE)
def compose_action(
    stack: Stack, action: FlowAction, remove_volumes: bool, settings: Settings
) -> bool:
    """Runs the Compose CLI; whether a folder was removed (`delete` of watch-docker's own)."""
    cli = ComposeCli.from_settings(settings)
    if action == "delete":
        root = settings.compose.project_root(settings.state_dir)
        return delete(cli, root, stack, remove_volumes)
    act(cli, stack, action, remove_volumes)
    return False


@flow(name="compose", flow_run_name="compose {action} {project}")
def compose(
    action: FlowAction,
    project: str,
    remove_volumes: bool = False,
    config_file: str | None = None,
) -> StackOutcome:
    """Run a Compose action on a project.

    Args:
        action: up, start, stop, restart, down, or delete (down, then the project's folder
            when watch-docker created it).
        project: the compose project's name.
        remove_volumes: with down or delete, remove the project's volumes too.
        config_file: a config.yaml to read instead of the default places.
    """
    settings = load_settings(config_file)
    root = settings.compose.project_root(settings.state_dir)
    engine = engine_for(settings)
    try:
        stack = find_stack(engine, root, project)
        removed = compose_action(stack, action, remove_volumes, settings)
        status = "not created" if removed else _status_now(engine, root, project)
    finally:
        engine.close()
    get_run_logger().info("compose %s %s: %s", action, project, status)
    return StackOutcome(project=project, action=action, status=status, folder_removed=removed)


def _status_now(engine: docker.DockerClient, root: Path, project: str) -> ProjectStatus:
    try:
        return find_stack(engine, root, project).status
    except StackNotFound:  # down leaves no container, and its folder is elsewhere
        return "not created"


def run_compose(
    action: FlowAction, project: str, remove_volumes: bool, config_file: str | None
) -> tuple[UUID | None, StackOutcome]:
    """A `compose` run in this thread (the CLI's process, or serve's for the API): its id and
    outcome, or ComposeRunFailed with the reason."""
    # As the CLI's other runs: no heartbeat thread, which would hold the end to the next second.
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        state = compose(
            action=action,
            project=project,
            remove_volumes=remove_volumes,
            config_file=config_file,
            return_state=True,
        )
    run_id = state.state_details.flow_run_id
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException) or not isinstance(result, StackOutcome):
        raise ComposeRunFailed(str(result), run_id)
    return run_id, result
