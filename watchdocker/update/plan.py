"""Which containers an update run replaces, from a scan: plain functions and the result rows
of the `update --json` contract."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from watchdocker.container_status import ContainerStatus
from watchdocker.digests import short_digest

if TYPE_CHECKING:
    from watchdocker.update.updater import ReplaceResult

UpdateResultKind = Literal[
    "updated", "rolled_back", "failed", "skipped", "up_to_date", "would_update"
]
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
# On a compose service's containers: its project's updates go out together, in one `up`.
WHOLE_PROJECT_LABEL = "watchdocker.compose.whole-project"


class UpdateResult(BaseModel):
    name: str
    image: str
    result: UpdateResultKind
    reason: str = ""
    old_image_id: str | None = None
    new_image_id: str | None = None


class UpdateReport(BaseModel):
    results: list[UpdateResult]

    def count(self, result: UpdateResultKind) -> int:
        return sum(1 for r in self.results if r.result == result)

    @property
    def ok(self) -> bool:
        return not (self.count("failed") or self.count("rolled_back"))

    @property
    def summary(self) -> str:
        parts = [
            f"{self.count(kind)} {label}"
            for kind, label in _SUMMARY_LABELS.items()
            if self.count(kind)
        ]
        return ", ".join(parts) or "nothing to update"


# What a run's name and footer count, in this order.
_SUMMARY_LABELS: dict[UpdateResultKind, str] = {
    "would_update": "would be updated",
    "updated": "updated",
    "rolled_back": "rolled back",
    "failed": "failed",
}


class UnknownContainers(ValueError):
    """An update named containers the engine does not have."""


def require_known(names: Sequence[str], present: Collection[str]) -> None:
    """Raises UnknownContainers naming each of `names` not in `present`, before anything is
    scanned: a typo is told at once, not after a scan of the host."""
    unknown = [name for name in dict.fromkeys(names) if name not in present]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise UnknownContainers(f"no container{plural} named {listed}: nothing was updated")


class PlannedUpdate(BaseModel):
    container_id: str
    name: str
    image: str  # the reference text the container was created from
    remote_digest: str
    local_digest: str | None = None
    labels: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)


def plan_updates(
    statuses: Sequence[ContainerStatus],
    names: Sequence[str] | None,
    allow_compose: bool,
    in_progress: Mapping[str, str] | None = None,
) -> tuple[list[PlannedUpdate], list[UpdateResult]]:
    """The updates to make, and the results already known for the rest. `names` None means
    every container the scan found with an update, and those it could not check (skipped, so
    that one broken registry does not fail every automatic update, but listed: the run tells
    what it left out); otherwise exactly the named ones (one that could not be checked fails).
    The labels
    are those discovery found (a container gone since is told so by its replacement, under the
    lock). `in_progress`: the services another run is updating now, and who; the scan may have
    missed one while its old container was set aside."""
    by_name = {s.name: s for s in statuses}
    chosen: list[ContainerStatus] = []
    known: list[UpdateResult] = []
    if names is None:
        chosen = [s for s in statuses if s.status in ("update_available", "error")]
    else:
        for name in names:
            status = by_name.get(name)
            if status is None and in_progress and name in in_progress:
                known.append(
                    UpdateResult(
                        name=name,
                        image="",
                        result="skipped",
                        reason=f"{in_progress[name]}: nothing done",
                    )
                )
            elif status is None:
                known.append(
                    UpdateResult(
                        name=name, image="", result="failed", reason=f"no container named {name!r}"
                    )
                )
            else:
                chosen.append(status)
    planned = []
    for s in chosen:
        if s.status == "up_to_date":
            known.append(UpdateResult(name=s.name, image=s.image, result="up_to_date"))
        elif s.status == "skipped":
            known.append(
                UpdateResult(name=s.name, image=s.image, result="skipped", reason=s.reason)
            )
        elif s.status == "error" or not s.remote_digest:
            known.append(
                UpdateResult(
                    name=s.name,
                    image=s.image,
                    result="failed" if names is not None else "skipped",
                    reason=f"scan failed, not updated: {s.reason}",
                )
            )
        elif not allow_compose and COMPOSE_PROJECT_LABEL in s.labels:
            project = s.labels[COMPOSE_PROJECT_LABEL]
            known.append(
                UpdateResult(
                    name=s.name,
                    image=s.image,
                    result="skipped",
                    reason=f"managed by compose project {project!r} (update.allowComposeUpdate)",
                )
            )
        else:
            planned.append(
                PlannedUpdate(
                    container_id=s.id,
                    name=s.name,
                    image=s.image,
                    remote_digest=s.remote_digest,
                    local_digest=s.local_digest,
                    labels=s.labels,
                )
            )
    return planned, known


def dry_run_results(planned: Sequence[PlannedUpdate]) -> list[UpdateResult]:
    """What a dry run reports for the updates it would make."""
    return [
        UpdateResult(
            name=p.name,
            image=p.image,
            result="would_update",
            reason=f"{short_digest(p.local_digest) or '?'} → {short_digest(p.remote_digest)}",
        )
        for p in planned
    ]


def results_for(
    planned: Sequence[PlannedUpdate], result: UpdateResultKind, reason: str
) -> list[UpdateResult]:
    """The same result for each of `planned`: a failed pull, a refused approval."""
    return [UpdateResult(name=p.name, image=p.image, result=result, reason=reason) for p in planned]


def replace_results(done: ReplaceResult, joined_to: str | None = None) -> list[UpdateResult]:
    """The result of a replacement, then those of the containers joined to its network."""
    reason = done.reason or (f"recreated to join the new {joined_to}" if joined_to else "")
    row = UpdateResult(
        name=done.name,
        image=done.image,
        result=done.result,
        reason=reason,
        old_image_id=done.old_image_id,
        new_image_id=done.new_image_id,
    )
    return [row, *(r for d in done.dependents for r in replace_results(d, done.name))]


def group_by_image(planned: Sequence[PlannedUpdate]) -> list[list[PlannedUpdate]]:
    """Updates of one image run one after the other (README "Update"); groups run side by side."""
    groups: dict[str, list[PlannedUpdate]] = {}
    for item in planned:
        groups.setdefault(item.image, []).append(item)
    return list(groups.values())


# An image's containers and the image ID they are to run, once it is pulled.
PulledGroup = tuple[list[PlannedUpdate], str]


def keep_only(pulled: Sequence[PulledGroup], names: Collection[str]) -> list[PulledGroup]:
    """The pulled groups cut down to the containers named (those approved); none left empty."""
    kept = [([p for p in group if p.name in names], image_id) for group, image_id in pulled]
    return [(group, image_id) for group, image_id in kept if group]


# A compose project's containers to update together, each with the image ID it is to run.
ProjectBatch = list[tuple[PlannedUpdate, str]]


def split_whole_projects(
    pulled: Sequence[PulledGroup],
) -> tuple[list[PulledGroup], list[ProjectBatch]]:
    """The containers labelled `watchdocker.compose.whole-project=true` taken out of their
    image groups and batched by compose project; the rest as they were (none left empty)."""
    groups: list[PulledGroup] = []
    batches: dict[str, ProjectBatch] = {}
    for group, image_id in pulled:
        kept = []
        for item in group:
            project = item.labels.get(COMPOSE_PROJECT_LABEL)
            if project and item.labels.get(WHOLE_PROJECT_LABEL, "").lower() == "true":
                batches.setdefault(project, []).append((item, image_id))
            else:
                kept.append(item)
        if kept:
            groups.append((kept, image_id))
    return groups, list(batches.values())
