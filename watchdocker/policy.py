"""Which containers are checked (README "How a scan decides"). Plain functions over labels
and the image reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import semver

from watchdocker.config import PolicyConfig
from watchdocker.reference import ImageReference

SKIP_LABEL = "watchdocker.skip"
FORCE_LABEL = "watchdocker.force"


@dataclass(frozen=True, slots=True)
class Decision:
    skipped: bool
    reason: str = ""
    force: bool = False


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def label_matches(labels: Mapping[str, str], selector: str) -> bool:
    """`key` matches when the label is present, `key=value` when it has that value."""
    key, sep, value = selector.partition("=")
    if key not in labels:
        return False
    return not sep or labels[key] == value


def _first_match(labels: Mapping[str, str], selectors: Sequence[str]) -> str | None:
    return next((s for s in selectors if label_matches(labels, s)), None)


def evaluate_labels(labels: Mapping[str, str], config: PolicyConfig) -> Decision:
    """The rules that need only the container's labels.

    `watchdocker.skip=true` always wins, also over `watchdocker.force=true`: an explicit
    "leave this alone" is the safer reading of a contradiction. Force overrides every other rule.
    """
    force = _truthy(labels.get(FORCE_LABEL))
    if _truthy(labels.get(SKIP_LABEL)):
        if force:
            return Decision(True, f"labels {SKIP_LABEL}=true and {FORCE_LABEL}=true: skip wins")
        return Decision(True, f"label {SKIP_LABEL}=true")
    if force:
        return Decision(False, f"label {FORCE_LABEL}=true", force=True)
    if matched := _first_match(labels, config.skip_labels):
        return Decision(True, f"label {matched} is in policy.skipLabels")
    if config.only_labels and not _first_match(labels, config.only_labels):
        return Decision(True, "no label of policy.onlyLabels: " + ", ".join(config.only_labels))
    if matched := _first_match(labels, config.exclude_labels):
        return Decision(True, f"label {matched} is in policy.excludeLabels")
    return Decision(False)


def is_strict_semver(tag: str) -> bool:
    """A fixed version, as the seeds count one: a full `MAJOR.MINOR.PATCH` semver, with an
    optional lowercase `v` (`1.2.3`, `v1.2.3`), pre-release or variant (`1.2.3-rc.1`,
    `1.2.3-alpine`) and build metadata. Shorter versions (`1.2`, `v1`) are floating: image
    publishers move them to each new patch or minor release."""
    return semver.Version.is_valid(tag.removeprefix("v"))


def evaluate_image(
    reference: ImageReference, repo_digests: Sequence[str], config: PolicyConfig
) -> Decision:
    """The rules about the image: local builds, digest pins, fixed versions, floating tags."""
    if not repo_digests and config.skip_local_build:
        return Decision(
            True, "local build: the image has no registry digest (policy.skipLocalBuild)"
        )
    if reference.pinned and config.skip_pinned_digest:
        return Decision(True, f"pinned to digest {reference.digest} (policy.skipPinnedDigest)")
    tag = reference.tag
    if tag is None:
        return Decision(True, f"pinned to digest {reference.digest} with no tag to follow")
    if config.skip_semver_pinned and is_strict_semver(tag):
        return Decision(True, f"tag {tag} is a fixed version (policy.skipSemverPinned)")
    if config.floating_tags and tag not in config.floating_tags:
        return Decision(True, f"tag {tag} is not in policy.floatingTags")
    return Decision(False)


def evaluate_policy(
    labels: Mapping[str, str],
    reference: ImageReference,
    repo_digests: Sequence[str],
    config: PolicyConfig,
) -> Decision:
    """Label rules, then image rules; `watchdocker.force=true` checks what a rule would skip."""
    by_labels = evaluate_labels(labels, config)
    if by_labels.skipped or by_labels.force:
        return by_labels
    return evaluate_image(reference, repo_digests, config)
