"""The recovery journal: one durable file per container being updated, written before every step
that changes the engine, so that a process killed at any point can be finished or undone.

An entry also acts as the container's lock: `begin` fails while another live process holds it."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

# The order the updater goes through; recovery undoes every step before "healthy".
Step = Literal["begun", "stopping", "renamed", "created", "starting", "healthy"]
# `<service>-watchdocker-old-<id12>`: the old container's name while its replacement is tried.
_ASIDE_NAME = re.compile(r"(?P<service>.+)-watchdocker-old-[0-9a-f]{12}")
ASIDE_NAME_FILTER = "-watchdocker-old-"  # for the engine's `name` filter (a substring match)


def aside_name(service: str, container_id: str) -> str:
    return f"{service}-watchdocker-old-{container_id[:12]}"


def aside_service(name: str) -> str | None:
    """The service an aside container was set aside from; None for any other name."""
    match = _ASIDE_NAME.fullmatch(name)
    return match["service"] if match else None


class UpdateInProgress(Exception):
    """Another process is updating this container now."""


class ComposeService(BaseModel):
    """An update made through compose: the service's project, how to run compose for it, and
    the image to tag back as the service's image to roll it back."""

    project: str
    service: str
    folder: str | None
    files: list[str]
    old_image_id: str


class JournalEntry(BaseModel):
    name: str  # the container's name, which the service is known by
    old_id: str
    old_running: bool
    aside_name: str  # the old container's name while the new one is tried
    image: str
    new_image_id: str
    new_id: str | None = None
    step: Step = "begun"
    pid: int
    host: str
    updated_at: float
    # The updater gave up undoing (the old container would not start): whoever runs next
    # recovers it, even while the process that wrote it lives on.
    given_up: bool = False
    # Set for an update through compose (`update.compose_update`), which recovers it.
    compose: ComposeService | None = None


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    def _write(self, entry: JournalEntry, *, exclusive: bool) -> None:
        data = entry.model_dump_json().encode()
        path = self._path(entry.name)
        if exclusive:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                raise UpdateInProgress(self.holder_of(entry.name)) from None
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        else:
            # Write aside and rename: a crash leaves the old entry or the new, never half.
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def holder_of(self, name: str) -> str:
        """Who holds the service's lock, as a user reads it."""
        entry = self.read(name)
        if entry is None:
            return f"an update of {name} is in progress"
        if entry in self.abandoned():
            return f"an interrupted update of {name} awaits `watch-docker recover`"
        return (
            f"an update of {name} by process {entry.pid} on {entry.host} is in progress "
            f"(step {entry.step})"
        )

    def in_progress(self) -> dict[str, str]:
        """Each service an update holds the lock of, and who holds it: a scan may have missed
        the service while its old container was set aside."""
        return {entry.name: self.holder_of(entry.name) for entry in self.entries()}

    def begin(self, entry: JournalEntry) -> JournalEntry:
        self._write(entry, exclusive=True)
        return entry

    def advance(self, entry: JournalEntry, step: Step, **changes: object) -> JournalEntry:
        updated = entry.model_copy(update={"step": step, "updated_at": time.time(), **changes})
        self._write(updated, exclusive=False)
        return updated

    def finish(self, entry: JournalEntry) -> None:
        self._path(entry.name).unlink(missing_ok=True)

    def read(self, name: str) -> JournalEntry | None:
        try:
            return JournalEntry.model_validate_json(self._path(name).read_bytes())
        except FileNotFoundError:
            return None

    def entries(self) -> list[JournalEntry]:
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                found.append(JournalEntry.model_validate_json(path.read_bytes()))
            except (ValidationError, json.JSONDecodeError):
                # Only the first write is not atomic, and it precedes any change to the engine:
                # a torn entry stands for nothing done, and must not lock the container.
                path.unlink(missing_ok=True)
            except OSError:
                continue
        return found

    def abandoned(self) -> list[JournalEntry]:
        """Entries of this host whose process is gone or gave up: updates to finish or undo."""
        here = socket.gethostname()
        return [
            e for e in self.entries() if e.host == here and (e.given_up or not _is_alive(e.pid))
        ]


def journal_root(state_dir: Path) -> Path:
    """Where every engine's journal directory lives under the state directory."""
    return state_dir / "journal"


def has_entries(root: Path) -> bool:
    """Whether any engine's journal holds an entry: a directory listing, no engine call."""
    return any(root.glob("*/*.json"))


def new_entry(
    name: str, old_id: str, old_running: bool, image: str, new_image_id: str
) -> JournalEntry:
    return JournalEntry(
        name=name,
        old_id=old_id,
        old_running=old_running,
        aside_name=aside_name(name, old_id),
        image=image,
        new_image_id=new_image_id,
        pid=os.getpid(),
        host=socket.gethostname(),
        updated_at=time.time(),
    )
