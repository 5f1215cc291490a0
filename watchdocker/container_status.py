"""From a discovered container, its policy and its registry's answer to one status.

The judgement, in order (README "How a scan decides"):
1. the remote digest is among the image's RepoDigests -> up to date;
2. the remote digest is a single-platform manifest -> an update;
3. it is an index: the entry for the container's own platform is followed to its config digest,
   which is the engine's image ID; equal -> up to date (the index changed only for other
   platforms), different -> an update.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from watchdocker.config import PolicyConfig
from watchdocker.policy import evaluate_policy
from watchdocker.reference import ImageReference, InvalidReferenceError

if TYPE_CHECKING:
    # Only named in annotations: the CLI's thin path imports this module without the docker SDK.
    from watchdocker.engine.discovery import ContainerInfo

Status = Literal["up_to_date", "update_available", "skipped", "error"]


class ContainerStatus(BaseModel):
    id: str
    name: str
    image: str
    running: bool
    status: Status
    reason: str = ""
    local_digest: str | None = None
    remote_digest: str | None = None
    # As discovery found them: an update reads its rules (approval, compose) from here rather
    # than asking the engine again. Not part of `scan --json`.
    labels: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)


class DigestResolution(BaseModel):
    """A registry's answer for one reference, or why there is none; kept in the digest cache."""

    reference: str
    digest: str | None = None
    media_type: str | None = None
    is_index: bool = False
    error: str | None = None
    resolved_at: float


class ScanReport(BaseModel):
    containers: list[ContainerStatus]

    def count(self, status: Status) -> int:
        return sum(1 for c in self.containers if c.status == status)

    @property
    def summary(self) -> str:
        updates = self.count("update_available")
        errors = self.count("error")
        text = f"{updates} update{'s' if updates != 1 else ''} available"
        return text + (f", {errors} error{'s' if errors != 1 else ''}" if errors else "")


@dataclass(frozen=True)
class CheckPlan:
    """What the scan does for one container: nothing (a final status), or ask the registry."""

    container: ContainerInfo
    reference: ImageReference | None
    final: ContainerStatus | None

    @property
    def needs_registry(self) -> bool:
        return self.final is None


def _status(
    container: ContainerInfo, status: Status, reason: str, **digests: str | None
) -> ContainerStatus:
    return ContainerStatus(
        id=container.id,
        name=container.name,
        image=container.image,
        running=container.running,
        status=status,
        reason=reason,
        labels=container.labels,
        **digests,
    )


def local_digests(reference: ImageReference, repo_digests: Sequence[str]) -> list[str]:
    """The RepoDigests recorded for this repository: an image can carry several names, and
    one name several digests (the index it was pulled through, the manifest it was pushed as)."""
    found = []
    for entry in repo_digests:
        try:
            parsed = ImageReference.parse(entry)
        except InvalidReferenceError:
            continue
        if parsed.name == reference.name and parsed.digest:
            found.append(parsed.digest)
    return found


def local_digest(reference: ImageReference, repo_digests: Sequence[str]) -> str | None:
    """The first RepoDigest of this repository, to show."""
    return next(iter(local_digests(reference, repo_digests)), None)


def _names_its_image_id(container: ContainerInfo) -> bool:
    """`docker run <id>` records the ID (full, short, with or without `sha256:`) as the image."""
    text = container.image.removeprefix("sha256:")
    image_id = container.image_id.removeprefix("sha256:")
    return container.image.startswith("sha256:") or (
        len(text) >= 12 and bool(image_id) and image_id.startswith(text)
    )


def plan_check(container: ContainerInfo, policy: PolicyConfig) -> CheckPlan:
    if _names_its_image_id(container):
        reason = "created from an image ID, not a name: there is no tag to follow"
        return CheckPlan(container, None, _status(container, "skipped", reason))
    try:
        reference = ImageReference.parse(container.image)
    except InvalidReferenceError as exc:
        return CheckPlan(container, None, _status(container, "error", str(exc)))
    decision = evaluate_policy(container.labels, reference, container.repo_digests, policy)
    current = local_digest(reference, container.repo_digests)
    if decision.skipped:
        final = _status(container, "skipped", decision.reason, local_digest=current)
        return CheckPlan(container, reference, final)
    if reference.tag is None:
        reason = f"pinned to {reference.digest} with no tag: nothing to compare against"
        return CheckPlan(container, reference, _status(container, "skipped", reason))
    return CheckPlan(container, reference, None)


def tag_reference(reference: ImageReference) -> str:
    """The reference asked of the registry: name and tag, without any pinned digest."""
    return f"{reference.name}:{reference.tag}"


def distinct_references(plans: Iterable[CheckPlan]) -> list[str]:
    """What a scan asks the registries: each name:tag once, however many containers run it."""
    return sorted({tag_reference(p.reference) for p in plans if p.needs_registry and p.reference})


def stale_errors(
    answers: Mapping[str, DigestResolution], scan_started: float, error_ttl: float
) -> list[str]:
    """The references whose error came from the cache and outlived scan.errorTTL: asked again.
    Measured from the scan's start, so that an error from this very scan is not stale."""
    return [
        ref
        for ref, answer in answers.items()
        if answer.error and scan_started - answer.resolved_at > error_ttl
    ]


# (repository, remote digest, platform): one registry ask for a platform's image.
PlatformLookup = tuple[str, str, str]


@dataclass(frozen=True)
class PlatformAnswer:
    config: str | None = None  # the image ID the platform gets
    error: str | None = None


def platform_lookup(
    plan: CheckPlan, answers: Mapping[str, DigestResolution]
) -> PlatformLookup | None:
    """The platform lookup a plan needs, given its tag's answer; None when it needs none."""
    if plan.reference is None or not plan.needs_registry:
        return None
    answer = answers[tag_reference(plan.reference)]
    if not needs_platform_check(plan, answer):
        return None
    return (plan.reference.name, answer.digest or "", plan.container.platform)


def platform_lookups(
    plans: Iterable[CheckPlan], answers: Mapping[str, DigestResolution]
) -> list[PlatformLookup]:
    """Each distinct platform lookup of a scan once (containers of one image share it), in
    the plans' order."""
    wanted = (platform_lookup(plan, answers) for plan in plans)
    return list(dict.fromkeys(key for key in wanted if key is not None))


def judge_all(
    plans: Iterable[CheckPlan],
    answers: Mapping[str, DigestResolution],
    platforms: Mapping[PlatformLookup, PlatformAnswer],
) -> list[ContainerStatus]:
    """One status per plan: its final one, or judged from the registry's answers."""
    statuses = []
    for plan in plans:
        if plan.final is not None:
            statuses.append(plan.final)
            continue
        assert plan.reference is not None  # a plan without a final status has one
        key = platform_lookup(plan, answers)
        found = platforms[key] if key is not None else PlatformAnswer()
        remote = answers[tag_reference(plan.reference)]
        statuses.append(judge(plan, remote, found.config, found.error))
    return statuses


def needs_platform_check(plan: CheckPlan, remote: DigestResolution) -> bool:
    """An index whose digest differs from ours may still hold our platform's image unchanged;
    with no RepoDigest to compare (a forced local build), only the image itself can tell."""
    assert plan.reference is not None
    known = local_digests(plan.reference, plan.container.repo_digests)
    if remote.error is not None or remote.digest in known:
        return False
    return remote.is_index or not known


def judge(
    plan: CheckPlan,
    remote: DigestResolution,
    platform_config: str | None = None,
    platform_error: str | None = None,
) -> ContainerStatus:
    """The status of a container that needed the registry, given its answers."""
    assert plan.reference is not None
    container = plan.container
    known = local_digests(plan.reference, container.repo_digests)
    current = next(iter(known), None)
    if remote.error is not None:
        return _status(container, "error", remote.error, local_digest=current)
    if remote.digest in known:
        return _status(
            container, "up_to_date", "", local_digest=remote.digest, remote_digest=remote.digest
        )
    digests = {"local_digest": current, "remote_digest": remote.digest}
    if platform_error is not None:
        return _status(container, "error", platform_error, **digests)
    if platform_config is not None:
        if platform_config == container.image_id:
            reason = (
                f"the index changed only for other platforms than {container.platform}"
                if current
                else "the local image is the tag's image"
            )
            return _status(container, "up_to_date", reason, **digests)
        return _status(
            container, "update_available", f"a new image for {container.platform}", **digests
        )
    return _status(container, "update_available", "the tag points at a new image", **digests)
