"""Compose projects on an engine: listed from its containers' labels and the projects'
folder, created in a new folder of their own (checked by `compose config` first), acted on
(`up`, `start`, `stop`, `restart`, `down`) and deleted (`down`, then the folder when
watch-docker made it). Names and paths follow `watchdocker.stacks.names`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Literal

import docker
from pydantic import BaseModel

from watchdocker.stacks.compose_cli import CHECK_SECONDS, ComposeCli, ComposeFailed, ComposeTarget
from watchdocker.stacks.names import (
    CREATED_FILE,
    MARKER,
    check_name,
    contained,
    project_folder,
)
from watchdocker.stacks.projects import (
    PROJECT_LABEL,
    LabelledContainer,
    ProjectStatus,
    Stack,
    discover,
    project_folders,
)

StackAction = Literal["up", "start", "stop", "restart", "down"]
# What the `compose` flow does: an action of the CLI, or `delete` (down, then the folder).
FlowAction = Literal["up", "start", "stop", "restart", "down", "delete"]


class StackOutcome(BaseModel):
    """What a `compose` flow run did to a project, and how it stands after."""

    project: str
    action: FlowAction
    status: ProjectStatus
    folder_removed: bool = False


class StackNotFound(LookupError):
    """No container's labels nor folder name this project."""


class StackExists(Exception):
    """`create` of a name a project or a folder already has."""


def labelled_containers(engine: docker.DockerClient) -> list[LabelledContainer]:
    """The engine's containers that belong to a compose project, stopped ones too."""
    found = engine.api.containers(all=True, filters={"label": PROJECT_LABEL})
    return [
        LabelledContainer(
            id=c["Id"],
            name=(c.get("Names") or ["/"])[0].lstrip("/"),
            image=c.get("Image", ""),
            state=c.get("State", ""),
            labels=c.get("Labels") or {},
        )
        for c in found
    ]


def list_stacks(engine: docker.DockerClient, root: Path) -> list[Stack]:
    return discover(labelled_containers(engine), project_folders(root))


def find_stack(engine: docker.DockerClient, root: Path, name: str) -> Stack:
    """Project `name` (checked first: BadProjectName), or StackNotFound."""
    check_name(name)
    for stack in list_stacks(engine, root):
        if stack.name == name:
            return stack
    raise StackNotFound(f"no compose project {name!r}: no container or folder of {root} has it")


def target_of(stack: Stack) -> ComposeTarget:
    return ComposeTarget(stack.name, stack.folder, list(stack.files))


def act(cli: ComposeCli, stack: Stack, action: StackAction, remove_volumes: bool = False) -> str:
    """Runs `action` on the project; the CLI's output (compose v1 reports on stderr: none)."""
    args: list[str] = {
        "up": ["up", "-d"],
        "start": ["start"],
        "stop": ["stop"],
        "restart": ["restart"],
        "down": ["down", *(["--volumes"] if remove_volumes else [])],
    }[action]
    return cli.run(target_of(stack), *args)


def create(
    cli: ComposeCli, engine: docker.DockerClient, root: Path, name: str, content: str
) -> Path:
    """Writes `content` as the compose file of a new project folder `root/name`, once
    `compose config` accepts it (ComposeFailed with its message otherwise: nothing is left).
    The folder carries the marker that lets `delete` remove it. Returns the folder."""
    folder = project_folder(root, name)
    if folder.exists() or any(s.name == name for s in list_stacks(engine, root)):
        raise StackExists(f"compose project {name!r} exists already")
    root.mkdir(parents=True, exist_ok=True)
    # Written and checked aside, then renamed into place: no half-made project is ever seen.
    staging = contained(root, Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root)))
    try:
        compose_file = staging / CREATED_FILE
        compose_file.write_text(content, encoding="utf-8")
        compose_file.chmod(0o600)  # it may hold passwords in `environment`
        try:
            cli.run(
                ComposeTarget(name, str(staging), [str(compose_file)]),
                "config",
                "--quiet",
                timeout=CHECK_SECONDS,
            )
        except ComposeFailed as exc:  # said of the folder it was meant for, not the staging one
            raise ComposeFailed(str(exc).replace(str(staging), str(folder))) from None
        (staging / MARKER).write_text("created by watch-docker\n")
        staging.chmod(0o755)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def delete(cli: ComposeCli, root: Path, stack: Stack, remove_volumes: bool = False) -> bool:
    """`down` (volumes kept unless `remove_volumes`), then the project's folder removed when
    watch-docker created it under `root`; whether it was."""
    act(cli, stack, "down", remove_volumes)
    if not stack.managed or stack.folder is None:
        return False
    folder = project_folder(root, stack.name)
    if contained(root, Path(stack.folder)) != folder or not (folder / MARKER).is_file():
        return False
    shutil.rmtree(folder)
    return True
