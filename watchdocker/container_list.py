"""The container list of the API: the latest scan's result merged with what the engine runs
now, so that it answers without asking a registry. A container the scan did not see is listed
as `unknown`; one gone since is not listed."""

from __future__ import annotations

from collections.abc import Sequence

from watchdocker.container_status import ContainerStatus
from watchdocker.engine.inventory import LiveContainer
from watchdocker.scan_store import SavedScan

UNKNOWN = "unknown"


class ListedContainer(ContainerStatus):
    """The fields of `scan --json`'s containers, with `running` and `state` as they are now."""

    # A scan's status, or `unknown` for a container no scan saw.
    status: str  # type: ignore[assignment]
    state: str


def _not_scanned(container: LiveContainer, saved: SavedScan | None, names: set[str]) -> str:
    if saved is None:
        return "not scanned yet: no scan has run on this engine"
    if container.name in names:
        return "recreated since the last scan"
    if container.created >= int(saved.scanned_at):  # the engine gives whole seconds
        return "created since the last scan"
    return "not in the last scan (a stopped container is scanned with docker.includeStopped)"


def merge_with_live(
    saved: SavedScan | None, live: Sequence[LiveContainer]
) -> list[ListedContainer]:
    """One entry per live container, in the order of `live`."""
    scanned = {c.id: c for c in saved.containers} if saved else {}
    names = {c.name for c in saved.containers} if saved else set()
    listed = []
    for container in live:
        now = {"running": container.running, "state": container.state}
        found = scanned.get(container.id)
        if found is not None:
            listed.append(ListedContainer(**{**found.model_dump(), **now, "name": container.name}))
            continue
        listed.append(
            ListedContainer(
                id=container.id,
                name=container.name,
                image=container.image,
                status=UNKNOWN,
                reason=_not_scanned(container, saved, names),
                **now,
            )
        )
    return listed
