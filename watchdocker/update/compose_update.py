"""Updating a container of a compose project through compose itself, so that compose keeps
owning it: the service's image (pulled at the scanned digest and tagged as the service's
image) is rolled out by `up -d --no-deps <service>`, health-checked as any update; on failure
the old image is tagged back and `up -d --no-deps <service>` run again. Compose recreates the
container with the same volumes and networks; a later `compose up -d` finds nothing to change.
Every step is journalled, as the recreate's are, and recovered the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docker
from docker.errors import NotFound

from watchdocker.reference import ImageReference
from watchdocker.stacks.compose_cli import ComposeCli, ComposeFailed, ComposeTarget
from watchdocker.stacks.projects import (
    PROJECT_LABEL,
    SERVICE_LABEL,
    WORKING_DIR_LABEL,
    config_files,
)
from watchdocker.update.journal import ComposeService, Journal, JournalEntry, new_entry

# (service's container name, new container id): raises when the new container is not healthy.
HealthCheck = Callable[[str, str], None]
Advance = Callable[..., JournalEntry]  # (entry, step, **changes): the entry journalled


def compose_service(container: dict) -> ComposeService | None:
    """The compose service a container belongs to, when compose can act on it: its labels name
    a project, a service and compose files that exist. None otherwise (a container labelled
    by hand, or whose files are gone: compose could not recreate it)."""
    labels = container["Config"].get("Labels") or {}
    project, service = labels.get(PROJECT_LABEL), labels.get(SERVICE_LABEL)
    files = config_files(labels)
    if not project or not service or not files or not all(Path(f).is_file() for f in files):
        return None
    return ComposeService(
        project=project,
        service=service,
        folder=labels.get(WORKING_DIR_LABEL) or None,
        files=files,
        old_image_id=container["Image"],
    )


def _target(service: ComposeService) -> ComposeTarget:
    return ComposeTarget(service.project, service.folder, list(service.files))


def _up_args(services: list[str], running: bool) -> list[str]:
    # A stopped container is replaced by a stopped one, as the recreate does.
    start = ["-d"] if running else ["--no-start"]
    return ["up", *start, "--no-deps", *services]


class ComposeUpdater:
    """The compose strategy of `Updater.replace` and `Updater.recover`."""

    def __init__(
        self, api: docker.APIClient, journal: Journal, cli: Callable[[], ComposeCli]
    ) -> None:
        self.api = api
        self.journal = journal
        self.cli = cli  # made when first needed: most hosts update no compose service

    def begin(
        self, old: dict, name: str, service: ComposeService, image: str, new_image_id: str
    ) -> JournalEntry:
        """The service's lock and the journal's record (UpdateInProgress when another run
        holds it)."""
        running = bool(old["State"].get("Running"))
        entry = new_entry(name, old["Id"], running, image, new_image_id)
        return self.journal.begin(entry.model_copy(update={"compose": service}))

    def roll_out(
        self, entries: list[JournalEntry], health: HealthCheck, advance: Advance
    ) -> list[str]:
        """Tags each new image as its service's and has compose recreate those services of
        one project in one `up`; the new containers' ids once each is healthy. Raises what
        failed (ComposeFailed, DockerException, or the health check's error)."""
        for entry in entries:
            _tag(self.api, entry.new_image_id, entry.image)  # the pull did; a retry must too
        entries = [advance(entry, "starting") for entry in entries]
        for running in (True, False):
            services = [_service(e) for e in entries if e.old_running == running]
            if services:
                target = _target(services[0])  # one project: the same files and folder
                self.cli().run(target, *_up_args([s.service for s in services], running))
        created = []
        for entry in entries:
            new = self._container(entry.name)
            if new is None:
                raise ComposeFailed(f"compose left no container named {entry.name}")
            created.append(advance(entry, "created", new_id=new["Id"]))
            if new["Image"] != entry.new_image_id:
                raise ComposeFailed(f"compose kept {entry.name} on its old image")
            if entry.old_running:
                health(entry.name, new["Id"])
        new_ids = [str(advance(entry, "healthy").new_id) for entry in created]
        return new_ids

    def roll_back(self, entry: JournalEntry) -> None:
        """The old image tagged back as the service's, and compose run again when the
        container is not on it, or not running as it was (raises when that fails)."""
        service = _service(entry)
        _tag(self.api, service.old_image_id, entry.image)
        now = self._container(entry.name)
        on_old = now is not None and now["Image"] == service.old_image_id
        as_it_was = now is not None and bool(now["State"].get("Running")) == entry.old_running
        if not (on_old and as_it_was):
            self.cli().run(_target(service), *_up_args([service.service], entry.old_running))

    def _container(self, name: str) -> dict | None:
        try:
            return self.api.inspect_container(name)
        except NotFound:
            return None


def _service(entry: JournalEntry) -> ComposeService:
    assert entry.compose is not None, "not an update through compose"
    return entry.compose


def _tag(api: docker.APIClient, image_id: str, image: str) -> None:
    reference = ImageReference.parse(image)
    api.tag(image_id, reference.name, reference.tag or "latest")
