"""Which containers are checked: label rules, image rules, and how they override each other."""

from __future__ import annotations

from typing import Any

import pytest

from watchdocker.config import PolicyConfig
from watchdocker.policy import (
    FORCE_LABEL,
    SKIP_LABEL,
    evaluate_image,
    evaluate_labels,
    evaluate_policy,
    is_strict_semver,
    label_matches,
)
from watchdocker.reference import ImageReference

DIGEST = "sha256:" + "a" * 64
REPO_DIGESTS = [f"nginx@{DIGEST}"]
FORCE = {FORCE_LABEL: "true"}
SKIP = {SKIP_LABEL: "true"}


def policy(**seed: Any) -> PolicyConfig:
    """A PolicyConfig from seed camelCase keys."""
    return PolicyConfig(**seed)


# --- label_matches ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "selector", "expected"),
    [
        ({"a": "1"}, "a", True),
        ({"a": ""}, "a", True),
        ({}, "a", False),
        ({"ab": "1"}, "a", False),
        ({"a": "1"}, "a=1", True),
        ({"a": "2"}, "a=1", False),
        ({"a": "1 "}, "a=1", False),
        ({"a": "1"}, "a=", False),
        ({"a": ""}, "a=", True),
        ({}, "a=", False),
        ({"a": "b=c"}, "a=b=c", True),
        ({"a": "b"}, "a=b=c", False),
        ({"A": "1"}, "a", False),
        ({"com.example.team": "web"}, "com.example.team=web", True),
    ],
)
def test_label_matches(labels: dict[str, str], selector: str, expected: bool) -> None:
    assert label_matches(labels, selector) is expected


# --- evaluate_labels ----------------------------------------------------------------------

LABEL_RULES = [
    # labels, seed policy, skipped, force, reason fragment
    ({}, {}, False, False, ""),
    ({"other": "x"}, {}, False, False, ""),
    # watchdocker.skip: the truthy spellings, and the ones that are not.
    (SKIP, {}, True, False, f"label {SKIP_LABEL}=true"),
    ({SKIP_LABEL: "TRUE"}, {}, True, False, SKIP_LABEL),
    ({SKIP_LABEL: "1"}, {}, True, False, SKIP_LABEL),
    ({SKIP_LABEL: "yes"}, {}, True, False, SKIP_LABEL),
    ({SKIP_LABEL: "on"}, {}, True, False, SKIP_LABEL),
    ({SKIP_LABEL: " True "}, {}, True, False, SKIP_LABEL),
    ({SKIP_LABEL: "false"}, {}, False, False, ""),
    ({SKIP_LABEL: "0"}, {}, False, False, ""),
    ({SKIP_LABEL: ""}, {}, False, False, ""),
    ({SKIP_LABEL: "no"}, {}, False, False, ""),
    # watchdocker.force: only a truthy value forces.
    (FORCE, {}, False, True, f"label {FORCE_LABEL}=true"),
    ({FORCE_LABEL: "yes"}, {}, False, True, FORCE_LABEL),
    ({FORCE_LABEL: "false"}, {}, False, False, ""),
    # skip beats force.
    ({**SKIP, **FORCE}, {}, True, False, "skip wins"),
    ({**SKIP, **FORCE}, {"onlyLabels": ["team"]}, True, False, "skip wins"),
    # skipLabels: key and key=value selectors.
    ({"ci": "1"}, {"skipLabels": ["ci"]}, True, False, "label ci is in policy.skipLabels"),
    ({"ci": ""}, {"skipLabels": ["ci"]}, True, False, "policy.skipLabels"),
    ({"ci": "1"}, {"skipLabels": ["ci=1"]}, True, False, "label ci=1 is in policy.skipLabels"),
    ({"ci": "0"}, {"skipLabels": ["ci=1"]}, False, False, ""),
    ({"x": "1"}, {"skipLabels": ["ci", "x"]}, True, False, "label x is in"),
    # onlyLabels: at least one must match.
    ({"team": "web"}, {"onlyLabels": ["team"]}, False, False, ""),
    ({"team": "web"}, {"onlyLabels": ["team=web"]}, False, False, ""),
    ({"team": "db"}, {"onlyLabels": ["team=web"]}, True, False, "policy.onlyLabels: team=web"),
    ({}, {"onlyLabels": ["team", "app"]}, True, False, "policy.onlyLabels: team, app"),
    ({"app": "x"}, {"onlyLabels": ["team", "app"]}, False, False, ""),
    # excludeLabels.
    ({"tier": "x"}, {"excludeLabels": ["tier"]}, True, False, "label tier is in policy.exclude"),
    ({"tier": "x"}, {"excludeLabels": ["tier=y"]}, False, False, ""),
    (
        {"team": "web", "tier": "db"},
        {"onlyLabels": ["team"], "excludeLabels": ["tier=db"]},
        True,
        False,
        "label tier=db is in policy.excludeLabels",
    ),
    # skipLabels is looked at before onlyLabels / excludeLabels.
    (
        {"ci": "1", "team": "web"},
        {"skipLabels": ["ci"], "onlyLabels": ["team"]},
        True,
        False,
        "policy.skipLabels",
    ),
    (
        {"ci": "1", "tier": "x"},
        {"skipLabels": ["ci"], "excludeLabels": ["tier"]},
        True,
        False,
        "policy.skipLabels",
    ),
    # force overrides skipLabels, onlyLabels and excludeLabels.
    ({**FORCE, "ci": "1"}, {"skipLabels": ["ci"]}, False, True, FORCE_LABEL),
    (FORCE, {"onlyLabels": ["team"]}, False, True, FORCE_LABEL),
    ({**FORCE, "tier": "x"}, {"excludeLabels": ["tier"]}, False, True, FORCE_LABEL),
    # The skip/force labels themselves can be selectors.
    ({FORCE_LABEL: "false"}, {"excludeLabels": [FORCE_LABEL]}, True, False, "excludeLabels"),
]


@pytest.mark.parametrize(("labels", "seed", "skipped", "force", "reason"), LABEL_RULES)
def test_evaluate_labels(
    labels: dict[str, str], seed: dict, skipped: bool, force: bool, reason: str
) -> None:
    decision = evaluate_labels(labels, policy(**seed))
    assert (decision.skipped, decision.force) == (skipped, force)
    assert reason in decision.reason
    if not skipped and not force:
        assert decision.reason == ""


# --- is_strict_semver ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("1.2.3", True),
        ("0.0.0", True),
        ("10.20.30", True),
        ("1.2.3-alpine", True),
        ("1.25.3-bookworm", True),
        ("1.2.3+build.5", True),
        ("1.2.3-rc.1", True),
        ("v1.2.3", True),
        ("v0.1.0", True),
        ("v1.2.3-rc.1", True),
        ("v1.2.3-alpine", True),
        ("v1.2.3+build.5", True),
        ("V1.2.3", False),
        ("vv1.2.3", False),
        ("v", False),
        ("v1.2", False),
        ("v1", False),
        ("1.2-rc.1", False),
        ("v01.2.3", False),
        ("1.2", False),
        ("1", False),
        ("01.2.3", False),
        ("1.2.3.4", False),
        ("latest", False),
        ("stable", False),
        ("alpine", False),
        ("1.2-alpine", False),
    ],
)
def test_is_strict_semver(tag: str, expected: bool) -> None:
    assert is_strict_semver(tag) is expected


# --- evaluate_image / evaluate_policy -----------------------------------------------------

IMAGE_RULES = [
    # image, repo digests, labels, seed policy, skipped, reason fragment
    ("nginx:latest", REPO_DIGESTS, {}, {}, False, ""),
    ("nginx", REPO_DIGESTS, {}, {}, False, ""),
    # Local builds: no RepoDigest.
    ("myapp:dev", [], {}, {}, True, "local build"),
    ("myapp:dev", [], {}, {"skipLocalBuild": False}, False, ""),
    ("myapp:dev", [], FORCE, {}, False, FORCE_LABEL),
    # A local build is reported as such even when it is also pinned or semver.
    ("myapp:1.2.3", [], {}, {}, True, "local build"),
    # Pinned digests.
    (f"nginx:1.25@{DIGEST}", REPO_DIGESTS, {}, {}, True, f"pinned to digest {DIGEST}"),
    (f"nginx:1.25@{DIGEST}", REPO_DIGESTS, {}, {}, True, "policy.skipPinnedDigest"),
    (f"nginx@{DIGEST}", REPO_DIGESTS, {}, {}, True, "policy.skipPinnedDigest"),
    (f"nginx:1.25@{DIGEST}", REPO_DIGESTS, {}, {"skipPinnedDigest": False}, False, ""),
    (f"nginx@{DIGEST}", REPO_DIGESTS, {}, {"skipPinnedDigest": False}, True, "no tag to follow"),
    (f"nginx:1.25@{DIGEST}", REPO_DIGESTS, FORCE, {}, False, FORCE_LABEL),
    # Fixed versions: strict semver only.
    ("nginx:1.2.3", REPO_DIGESTS, {}, {}, True, "tag 1.2.3 is a fixed version"),
    ("nginx:1.2.3-alpine", REPO_DIGESTS, {}, {}, True, "policy.skipSemverPinned"),
    ("nginx:v1.2.3", REPO_DIGESTS, {}, {}, True, "tag v1.2.3 is a fixed version"),
    ("nginx:v1.2.3-rc.1", REPO_DIGESTS, {}, {}, True, "policy.skipSemverPinned"),
    ("nginx:v1.2", REPO_DIGESTS, {}, {}, False, ""),
    ("nginx:v1.2.3", REPO_DIGESTS, {}, {"skipSemverPinned": False}, False, ""),
    ("nginx:1.2", REPO_DIGESTS, {}, {}, False, ""),
    ("nginx:1", REPO_DIGESTS, {}, {}, False, ""),
    ("nginx:latest", REPO_DIGESTS, {}, {}, False, ""),
    ("nginx:1.2.3", REPO_DIGESTS, {}, {"skipSemverPinned": False}, False, ""),
    ("nginx:1.2.3", REPO_DIGESTS, FORCE, {}, False, FORCE_LABEL),
    # floatingTags as an allow-list.
    ("nginx:stable", REPO_DIGESTS, {}, {"floatingTags": ["latest", "stable"]}, False, ""),
    ("nginx", REPO_DIGESTS, {}, {"floatingTags": ["latest"]}, False, ""),
    (
        "nginx:1.25",
        REPO_DIGESTS,
        {},
        {"floatingTags": ["latest", "stable"]},
        True,
        "tag 1.25 is not in policy.floatingTags",
    ),
    ("nginx:Latest", REPO_DIGESTS, {}, {"floatingTags": ["latest"]}, True, "floatingTags"),
    ("nginx:1.25", REPO_DIGESTS, FORCE, {"floatingTags": ["latest"]}, False, FORCE_LABEL),
    ("nginx:1.25", REPO_DIGESTS, {}, {"floatingTags": []}, False, ""),
    # The semver rule comes before the allow-list; with it off, the allow-list decides.
    ("nginx:1.2.3", REPO_DIGESTS, {}, {"floatingTags": ["latest"]}, True, "fixed version"),
    (
        "nginx:1.2.3",
        REPO_DIGESTS,
        {},
        {"floatingTags": ["latest"], "skipSemverPinned": False},
        True,
        "not in policy.floatingTags",
    ),
    # Label rules come before image rules.
    ("myapp:dev", [], SKIP, {}, True, SKIP_LABEL),
    ("nginx:latest", REPO_DIGESTS, {"ci": "1"}, {"skipLabels": ["ci"]}, True, "skipLabels"),
    # Everything off: every image is checked.
    (
        f"nginx:1.2.3@{DIGEST}",
        [],
        {},
        {
            "skipLocalBuild": False,
            "skipPinnedDigest": False,
            "skipSemverPinned": False,
        },
        False,
        "",
    ),
    # force checks what every image rule at once would skip.
    (
        f"myapp:1.2.3@{DIGEST}",
        [],
        FORCE,
        {"floatingTags": ["latest"], "onlyLabels": ["team"], "excludeLabels": [FORCE_LABEL]},
        False,
        FORCE_LABEL,
    ),
]


@pytest.mark.parametrize(("image", "digests", "labels", "seed", "skipped", "reason"), IMAGE_RULES)
def test_evaluate_policy(
    image: str,
    digests: list[str],
    labels: dict[str, str],
    seed: dict,
    skipped: bool,
    reason: str,
) -> None:
    decision = evaluate_policy(labels, ImageReference.parse(image), digests, policy(**seed))
    assert decision.skipped is skipped, decision
    assert reason in decision.reason
    assert decision.force is (FORCE_LABEL in reason and not skipped)


def test_evaluate_image_ignores_labels_entirely() -> None:
    # evaluate_image alone is the image half: force is not its business.
    decision = evaluate_image(ImageReference.parse("nginx:1.2.3"), REPO_DIGESTS, policy())
    assert decision.skipped
    assert not decision.force


def test_defaults_match_the_seed() -> None:
    config = PolicyConfig()
    assert config.skip_local_build and config.skip_pinned_digest and config.skip_semver_pinned
    assert config.skip_labels == config.only_labels == config.exclude_labels == []
    assert config.floating_tags == []
