"""What to do with an update that stopped half-way: plain functions from a journal entry and
what the engine shows now to a list of actions. The rule: the service ends up running, old or
new, never both and never none, and no container is left under its aside name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from watchdocker.update.journal import JournalEntry, new_entry


@dataclass(frozen=True)
class Observed:
    """The engine's view of the two containers an entry speaks of."""

    old_name: str | None  # None: the old container is gone
    old_running: bool
    new_id: str | None  # the new container: by the journalled id, else whatever holds the name
    new_running: bool


@dataclass(frozen=True)
class Action:
    kind: Literal["remove", "rename", "start", "stop"]
    container: str  # id
    name: str | None = None  # for rename


def rollback_plan(entry: JournalEntry, seen: Observed) -> list[Action]:
    """Undo: remove the new container, give the old one its name back, run it if it ran."""
    actions = []
    if seen.new_id is not None:
        actions.append(Action("remove", seen.new_id))
    if seen.old_name is not None:
        if seen.old_name != entry.name:
            actions.append(Action("rename", entry.old_id, entry.name))
        if entry.old_running and not seen.old_running:
            actions.append(Action("start", entry.old_id))
    return actions


def finish_plan(entry: JournalEntry, seen: Observed) -> list[Action]:
    """Forward: the new container passed its health check; only the old one's removal is left."""
    assert seen.new_id is not None
    actions = []
    if entry.old_running and not seen.new_running:
        actions.append(Action("start", seen.new_id))
    if seen.old_name is not None:
        if seen.old_running:
            actions.append(Action("stop", entry.old_id))
        actions.append(Action("remove", entry.old_id))
    return actions


def orphan_entry(
    service: str, aside_id: str, holder_id: str | None, keep_old: bool
) -> JournalEntry | None:
    """The journal entry an update would have left for an aside container nobody journalled
    (two runs raced on one container in versions before the lock was keyed on the service), so
    that `recovery_plan` resolves it like any other. A container under the service's name
    makes it finished (the aside is removed, the service left as it is); none makes it
    rolled back (the aside gets the name back and runs). None: nothing to do, the aside is
    the old container `update.removeOldContainer: false` keeps."""
    if holder_id is not None:
        if keep_old:
            return None
        found = new_entry(service, aside_id, False, "", "")
        return found.model_copy(update={"step": "healthy", "new_id": holder_id})
    return new_entry(service, aside_id, True, "", "").model_copy(update={"step": "renamed"})


def recovery_plan(
    entry: JournalEntry, seen: Observed
) -> tuple[Literal["finished", "rolled_back"], list[Action]]:
    """Finish what had passed its health check; undo everything else. With the old container
    gone before the new one was healthy there is nothing to go back to: keep the new one."""
    if seen.new_id is not None and (entry.step == "healthy" or seen.old_name is None):
        return "finished", finish_plan(entry, seen)
    return "rolled_back", rollback_plan(entry, seen)
