"""Compose projects as they stand: found from the `com.docker.compose.*` labels of existing
containers and from folders under the projects' folder holding a compose file, each with its
services, their containers and a status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel

from watchdocker.stacks.names import MARKER, PROJECT_NAME, compose_files_in

PROJECT_LABEL = "com.docker.compose.project"
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"
CONFIG_FILES_LABEL = "com.docker.compose.project.config_files"
SERVICE_LABEL = "com.docker.compose.service"
ONE_OFF_LABEL = "com.docker.compose.oneoff"

ProjectStatus = Literal["running", "partial", "stopped", "not created"]


class StackContainer(BaseModel):
    id: str
    name: str
    image: str
    state: str  # the engine's: running, exited, created, paused, restarting...

    @property
    def running(self) -> bool:
        return self.state == "running"


class StackService(BaseModel):
    name: str
    containers: list[StackContainer] = []


class Stack(BaseModel):
    name: str
    folder: str | None  # the project's working directory; None when no label or folder says
    files: list[str]  # absolute paths of its compose files
    services: list[StackService]
    status: ProjectStatus
    managed: bool = False  # created by watch-docker under the projects' folder


@dataclass(frozen=True)
class LabelledContainer:
    """What the engine says of a container: its id, name, image, state and labels."""

    id: str
    name: str
    image: str
    state: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class ProjectFolder:
    """A folder under the projects' folder holding a compose file."""

    name: str
    folder: Path
    files: list[Path]
    services: list[str]
    managed: bool


def status_of(services: Sequence[StackService]) -> ProjectStatus:
    """running: every service has containers and all run; not created: no container at all;
    stopped: containers, none running; partial: anything between."""
    containers = [c for s in services for c in s.containers]
    if not containers:
        return "not created"
    running = sum(1 for c in containers if c.running)
    if running == 0:
        return "stopped"
    if running == len(containers) and all(s.containers for s in services):
        return "running"
    return "partial"


def config_files(labels: Mapping[str, str]) -> list[str]:
    """The compose files of a container's project, absolute: compose v2 writes them so, v1
    relative to the working directory."""
    working_dir = labels.get(WORKING_DIR_LABEL, "")
    files = [f.strip() for f in labels.get(CONFIG_FILES_LABEL, "").split(",") if f.strip()]
    return [str(Path(working_dir, f)) if working_dir else f for f in files]


def services_in_file(text: str) -> list[str]:
    """The service names a compose file declares (none when it cannot be read as one)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    services = document.get("services") if isinstance(document, dict) else None
    return sorted(str(name) for name in services) if isinstance(services, dict) else []


def read_folder(folder: Path) -> ProjectFolder | None:
    """The project a folder holds: named as the folder (when compose accepts the name), its
    compose file and declared services; None for a folder without one."""
    files = compose_files_in(folder)
    if not files or not PROJECT_NAME.fullmatch(folder.name):
        return None
    try:
        services = services_in_file(files[0].read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        services = []
    return ProjectFolder(folder.name, folder, files, services, (folder / MARKER).is_file())


def project_folders(root: Path) -> list[ProjectFolder]:
    """The projects held by the folders directly under `root` (none when it does not exist)."""
    if not root.is_dir():
        return []
    found = (read_folder(entry) for entry in sorted(root.iterdir()) if entry.is_dir())
    return [project for project in found if project is not None]


def discover(
    containers: Iterable[LabelledContainer], folders: Iterable[ProjectFolder]
) -> list[Stack]:
    """Every project, by name: those of the containers' labels (one-off `run` containers
    aside), with the services and file of a folder of the same name added, and the folders'
    projects that have no container yet."""
    by_project: dict[str, list[LabelledContainer]] = {}
    for container in containers:
        project = container.labels.get(PROJECT_LABEL)
        if project and container.labels.get(ONE_OFF_LABEL, "False") != "True":
            by_project.setdefault(project, []).append(container)
    folder_of = {f.name: f for f in folders}
    stacks = [
        _stack(name, by_project.get(name, []), folder_of.get(name))
        for name in sorted(set(by_project) | set(folder_of))
    ]
    return stacks


def _stack(name: str, containers: list[LabelledContainer], folder: ProjectFolder | None) -> Stack:
    labels = containers[0].labels if containers else {}
    if folder and containers and not _same_folder(labels.get(WORKING_DIR_LABEL), folder.folder):
        folder = None  # the containers came from elsewhere: compose knows the project by them
    working_dir = labels.get(WORKING_DIR_LABEL) or (str(folder.folder) if folder else None)
    files = config_files(labels) or ([str(f) for f in folder.files] if folder else [])
    service_names = set(folder.services if folder else [])
    service_names |= {c.labels.get(SERVICE_LABEL, "") for c in containers} - {""}
    services = [
        StackService(
            name=service,
            containers=[
                StackContainer(id=c.id, name=c.name, image=c.image, state=c.state)
                for c in sorted(containers, key=lambda c: c.name)
                if c.labels.get(SERVICE_LABEL) == service
            ],
        )
        for service in sorted(service_names)
    ]
    return Stack(
        name=name,
        folder=working_dir,
        files=files,
        services=services,
        status=status_of(services),
        managed=bool(folder and folder.managed),
    )


def _same_folder(working_dir: str | None, folder: Path) -> bool:
    return bool(working_dir) and Path(str(working_dir)).resolve() == folder.resolve()
