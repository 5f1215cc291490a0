"""Which new images a scan tells people about, without Prefect.

The record says, per engine and container, which remote digest people were told of. A scan
tells a container's new digest once: not again while it stays the same, again when the tag
moves on. A container that is up to date, skipped or gone leaves the record, so a later new
image is told again; one whose lookup failed keeps its entry (a registry that hiccups must not
make the next scan repeat itself). The record so holds at most one entry per container with an
update or an error, and each entry is a Prefect Variable of bounded size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from watchdocker.container_status import ContainerStatus

TOLD_PREFIX = "watchdocker-told-"


@dataclass(frozen=True)
class NewImage:
    """An update people have not been told of yet."""

    container: str
    image: str
    current: str | None
    new: str


@dataclass(frozen=True)
class Telling:
    tell: list[NewImage]
    forget: list[str]  # containers whose entry leaves the record


def what_to_tell(
    statuses: Sequence[ContainerStatus], told: Mapping[str, str], complete: bool
) -> Telling:
    """`told` maps container name -> the digest told. `complete`: the scan saw every container
    of the engine, so one missing from it is gone (a scan of some names says nothing of the
    others)."""
    tell: list[NewImage] = []
    forget: list[str] = []
    for status in statuses:
        if status.status == "update_available" and status.remote_digest:
            if told.get(status.name) != status.remote_digest:
                tell.append(
                    NewImage(status.name, status.image, status.local_digest, status.remote_digest)
                )
        elif status.status in ("up_to_date", "skipped") and status.name in told:
            forget.append(status.name)
    if complete:
        seen = {status.name for status in statuses}
        forget += sorted(name for name in told if name not in seen)
    return Telling(tell, forget)


def _hash(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def engine_prefix(engine_id: str) -> str:
    """The start of the names of one engine's entries (Variable names allow only [a-z0-9_-],
    and a container name may hold `.` and capitals: both are hashed)."""
    return f"{TOLD_PREFIX}{_hash(engine_id, 12)}-"


def entry_name(engine_id: str, container: str) -> str:
    return engine_prefix(engine_id) + _hash(container, 24)


def entry_value(container: str, digest: str) -> dict[str, str]:
    """What an entry holds: the container's name as given, and the digest told."""
    return {"container": container, "digest": digest}


def read_entry(value: object) -> tuple[str, str] | None:
    """(container, digest) of an entry; None for a value that is not one (edited in the UI):
    that container's update is then told again, and the entry rewritten."""
    if not isinstance(value, dict):
        return None
    container, digest = value.get("container"), value.get("digest")
    if isinstance(container, str) and isinstance(digest, str) and container and digest:
        return container, digest
    return None
