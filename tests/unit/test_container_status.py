"""From a discovered container, its policy and its registry's answer to one status."""

from __future__ import annotations

from typing import Any

import pytest

from watchdocker.config import PolicyConfig
from watchdocker.container_status import (
    CheckPlan,
    ContainerStatus,
    DigestResolution,
    PlatformAnswer,
    ScanReport,
    distinct_references,
    judge,
    judge_all,
    local_digest,
    local_digests,
    needs_platform_check,
    plan_check,
    platform_lookups,
    stale_errors,
    tag_reference,
)
from watchdocker.engine.discovery import ContainerInfo
from watchdocker.policy import FORCE_LABEL, SKIP_LABEL
from watchdocker.reference import ImageReference

LOCAL = "sha256:" + "a" * 64  # the RepoDigest the engine recorded at pull time
NEWER = "sha256:" + "b" * 64  # what the tag points at now
IMAGE_ID = "sha256:" + "c" * 64  # the engine's image ID = config digest
OTHER_CONFIG = "sha256:" + "d" * 64
FORCE = {FORCE_LABEL: "true"}


def container(image: str = "nginx:latest", **fields: Any) -> ContainerInfo:
    base: dict[str, Any] = {
        "id": "0123456789ab" * 5 + "cdef",
        "name": "web",
        "image": image,
        "image_id": IMAGE_ID,
        "running": True,
        "state": "running",
        "repo_digests": [f"nginx@{LOCAL}"],
        "platform": "linux/amd64",
    }
    base.update(fields)
    return ContainerInfo(**base)


def remote(
    digest: str | None = NEWER, *, is_index: bool = False, error: str | None = None
) -> DigestResolution:
    return DigestResolution(
        reference="docker.io/library/nginx:latest",
        digest=None if error else digest,
        is_index=is_index,
        error=error,
        resolved_at=0.0,
    )


def planned(c: ContainerInfo, policy: PolicyConfig | None = None) -> CheckPlan:
    plan = plan_check(c, policy or PolicyConfig())
    assert plan.needs_registry, plan.final
    return plan


# --- plan_check ---------------------------------------------------------------------------

FINAL_PLANS = [
    # image, fields, seed policy, status, reason fragments
    (
        "Nginx:latest",
        {},
        {},
        "error",
        ["'Nginx:latest'", "lowercase"],
    ),
    ("nginx:", {}, {}, "error", ["'nginx:'", "tag after ':' is empty"]),
    ("nginx:bad tag", {}, {}, "error", ["'nginx:bad tag'"]),
    ("registry..example/x", {}, {}, "error", ["'registry..example/x'"]),
    (IMAGE_ID, {}, {}, "skipped", ["image ID"]),
    ("sha256:abc", {}, {}, "skipped", ["image ID"]),
    (f"nginx@{LOCAL}", {}, {}, "skipped", ["policy.skipPinnedDigest"]),
    (f"nginx:1.25@{LOCAL}", {}, {}, "skipped", ["policy.skipPinnedDigest"]),
    # Forced, but pinned with no tag: nothing to compare against.
    (f"nginx@{LOCAL}", {"labels": FORCE}, {}, "skipped", ["no tag"]),
    ("myapp:dev", {"repo_digests": []}, {}, "skipped", ["local build"]),
    ("nginx:1.2.3", {}, {}, "skipped", ["fixed version"]),
    ("nginx:latest", {"labels": {SKIP_LABEL: "true"}}, {}, "skipped", [SKIP_LABEL]),
    ("nginx:latest", {"labels": {}}, {"onlyLabels": ["team"]}, "skipped", ["onlyLabels"]),
]


@pytest.mark.parametrize(("image", "fields", "seed", "status", "fragments"), FINAL_PLANS)
def test_plan_check_final(
    image: str, fields: dict, seed: dict, status: str, fragments: list[str]
) -> None:
    c = container(image, **fields)
    plan = plan_check(c, PolicyConfig(**seed))
    assert not plan.needs_registry
    assert plan.final is not None
    assert plan.final.status == status
    for fragment in fragments:
        assert fragment in plan.final.reason
    # The status carries the container's identity.
    assert (plan.final.id, plan.final.name, plan.final.image, plan.final.running) == (
        c.id,
        c.name,
        image,
        True,
    )


def test_plan_check_error_keeps_no_reference() -> None:
    plan = plan_check(container("Nginx"), PolicyConfig())
    assert plan.reference is None


def test_plan_check_policy_skip_reports_local_digest() -> None:
    plan = plan_check(container("nginx:1.2.3"), PolicyConfig())
    assert plan.final is not None
    assert plan.final.local_digest == LOCAL


@pytest.mark.parametrize("image", ["c" * 64, "sha256:" + "c" * 64])
def test_plan_check_full_image_id_is_skipped(image: str) -> None:
    # BUG (container_status.py:110, plan_check): only a "sha256:" prefix is read as an image ID.
    # `docker run <64-hex id>` stores the bare hex as Config.Image; it is an image ID
    # (reference.py itself refuses it as a name for that reason), so it must be skipped,
    # not reported as an error "invalid image reference".
    plan = plan_check(container(image), PolicyConfig())
    assert plan.final is not None
    assert plan.final.status == "skipped", plan.final.reason
    assert "image ID" in plan.final.reason


NEEDS_REGISTRY = [
    ("nginx:latest", {}, {}),
    ("nginx", {}, {}),
    ("nginx:v1.2", {}, {}),
    ("nginx:v1.2.3", {}, {"skipSemverPinned": False}),
    ("nginx:1.2.3", {"labels": FORCE}, {}),
    (f"nginx:1.25@{LOCAL}", {"labels": FORCE}, {}),
    (f"nginx:1.25@{LOCAL}", {}, {"skipPinnedDigest": False}),
    ("myapp:dev", {"repo_digests": [], "labels": FORCE}, {}),
    ("myapp:dev", {"repo_digests": []}, {"skipLocalBuild": False}),
    ("ghcr.io/org/app:edge", {"repo_digests": [f"ghcr.io/org/app@{LOCAL}"]}, {}),
]


@pytest.mark.parametrize(("image", "fields", "seed"), NEEDS_REGISTRY)
def test_plan_check_needs_registry(image: str, fields: dict, seed: dict) -> None:
    plan = plan_check(container(image, **fields), PolicyConfig(**seed))
    assert plan.needs_registry
    assert plan.final is None
    assert plan.reference == ImageReference.parse(image)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        (f"nginx:1.25@{LOCAL}", "docker.io/library/nginx:1.25"),
        ("localhost:5000/app:dev", "localhost:5000/app:dev"),
    ],
)
def test_tag_reference(image: str, expected: str) -> None:
    assert tag_reference(ImageReference.parse(image)) == expected


# --- local_digest -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "repo_digests", "expected"),
    [
        ("nginx:latest", [f"nginx@{LOCAL}"], LOCAL),
        ("nginx:latest", [f"docker.io/library/nginx@{LOCAL}"], LOCAL),
        ("docker.io/library/nginx:1.25", [f"index.docker.io/library/nginx@{LOCAL}"], LOCAL),
        # An image with several names: the one of this repository.
        ("nginx:latest", [f"ghcr.io/x/nginx@{NEWER}", f"nginx@{LOCAL}"], LOCAL),
        ("ghcr.io/x/nginx:latest", [f"nginx@{LOCAL}", f"ghcr.io/x/nginx@{NEWER}"], NEWER),
        ("nginx:latest", [f"ghcr.io/x/nginx@{NEWER}"], None),
        ("nginx:latest", [], None),
        # Malformed or digest-less entries are passed over.
        ("nginx:latest", ["garbage@@", "nginx:latest", "", f"nginx@{LOCAL}"], LOCAL),
        ("nginx:latest", ["nginx:latest"], None),
        ("localhost:5000/app", [f"localhost:5001/app@{LOCAL}"], None),
    ],
)
def test_local_digest(image: str, repo_digests: list[str], expected: str | None) -> None:
    assert local_digest(ImageReference.parse(image), repo_digests) == expected


@pytest.mark.parametrize(
    ("repo_digests", "expected"),
    [
        ([f"nginx@{LOCAL}", f"docker.io/library/nginx@{NEWER}"], [LOCAL, NEWER]),
        ([f"ghcr.io/x/nginx@{OTHER_CONFIG}", f"nginx@{LOCAL}", "nginx:latest"], [LOCAL]),
        ([f"ghcr.io/x/nginx@{OTHER_CONFIG}"], []),
        ([], []),
    ],
)
def test_local_digests_keeps_every_digest_of_the_repository(
    repo_digests: list[str], expected: list[str]
) -> None:
    reference = ImageReference.parse("nginx:latest")
    assert local_digests(reference, repo_digests) == expected
    assert local_digest(reference, repo_digests) == (expected[0] if expected else None)


# --- needs_platform_check -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "answer", "expected"),
    [
        ({}, remote(LOCAL), False),  # up to date by RepoDigest
        ({}, remote(LOCAL, is_index=True), False),
        ({}, remote(NEWER), False),  # single manifest moved: an update, nothing to check
        ({}, remote(NEWER, is_index=True), True),  # index moved: maybe only other platforms
        ({}, remote(error="registry down"), False),
        ({"repo_digests": [], "labels": FORCE}, remote(NEWER), True),  # forced local build
        ({"repo_digests": [], "labels": FORCE}, remote(NEWER, is_index=True), True),
        ({"repo_digests": [], "labels": FORCE}, remote(error="x"), False),
        # One name, two digests (the index pulled, the manifest pushed): either is ours.
        (
            {"repo_digests": [f"nginx@{LOCAL}", f"nginx@{NEWER}"]},
            remote(NEWER, is_index=True),
            False,
        ),
        ({"repo_digests": [f"nginx@{LOCAL}", f"nginx@{NEWER}"]}, remote(NEWER), False),
    ],
)
def test_needs_platform_check(fields: dict, answer: DigestResolution, expected: bool) -> None:
    plan = planned(container(**fields))
    assert needs_platform_check(plan, answer) is expected


# --- judge --------------------------------------------------------------------------------

JUDGED = [
    # fields, answer, platform config, platform error, status, reason fragment, local, remote
    ({}, remote(LOCAL), None, None, "up_to_date", "", LOCAL, LOCAL),
    ({}, remote(LOCAL, is_index=True), None, None, "up_to_date", "", LOCAL, LOCAL),
    (
        {},
        remote(NEWER),
        None,
        None,
        "update_available",
        "the tag points at a new image",
        LOCAL,
        NEWER,
    ),
    (
        {},
        remote(NEWER, is_index=True),
        IMAGE_ID,
        None,
        "up_to_date",
        "only for other platforms than linux/amd64",
        LOCAL,
        NEWER,
    ),
    (
        {"platform": "linux/arm64/v8"},
        remote(NEWER, is_index=True),
        OTHER_CONFIG,
        None,
        "update_available",
        "a new image for linux/arm64/v8",
        LOCAL,
        NEWER,
    ),
    (
        {},
        remote(error="registry registry-1.docker.io: 401 Unauthorized"),
        None,
        None,
        "error",
        "401 Unauthorized",
        LOCAL,
        None,
    ),
    (
        {},
        remote(NEWER, is_index=True),
        None,
        "registry docker.io: the index has no manifest for linux/amd64",
        "error",
        "no manifest for linux/amd64",
        LOCAL,
        NEWER,
    ),
    # One name, two digests: the remote digest matching the second is up to date too.
    (
        {"repo_digests": [f"nginx@{LOCAL}", f"nginx@{NEWER}"]},
        remote(NEWER),
        None,
        None,
        "up_to_date",
        "",
        NEWER,
        NEWER,
    ),
    # A forced local build: only the image itself can tell.
    (
        {"repo_digests": [], "labels": FORCE},
        remote(NEWER),
        IMAGE_ID,
        None,
        "up_to_date",
        "the local image is the tag's image",
        None,
        NEWER,
    ),
    (
        {"repo_digests": [], "labels": FORCE},
        remote(NEWER),
        OTHER_CONFIG,
        None,
        "update_available",
        "a new image for linux/amd64",
        None,
        NEWER,
    ),
]


@pytest.mark.parametrize(
    ("fields", "answer", "config", "error", "status", "reason", "local", "remote_digest"),
    JUDGED,
)
def test_judge(
    fields: dict,
    answer: DigestResolution,
    config: str | None,
    error: str | None,
    status: str,
    reason: str,
    local: str | None,
    remote_digest: str | None,
) -> None:
    c = container(**fields)
    result = judge(planned(c), answer, config, error)
    assert result.status == status
    assert reason in result.reason
    if not reason:
        assert result.reason == ""
    assert (result.local_digest, result.remote_digest) == (local, remote_digest)
    assert (result.id, result.name, result.image, result.running) == (
        c.id,
        c.name,
        c.image,
        c.running,
    )


def test_judge_registry_error_wins_over_platform_answers() -> None:
    result = judge(planned(container()), remote(error="boom"), IMAGE_ID, "other")
    assert (result.status, result.reason) == ("error", "boom")


def test_judge_stopped_container() -> None:
    c = container(running=False, state="exited")
    assert judge(planned(c), remote(NEWER)).running is False


# --- ScanReport ---------------------------------------------------------------------------


def status(kind: str) -> ContainerStatus:
    return ContainerStatus(id="i", name="n", image="nginx", running=True, status=kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ([], "0 updates available"),
        (["up_to_date", "skipped"], "0 updates available"),
        (["update_available"], "1 update available"),
        (["update_available", "update_available"], "2 updates available"),
        (["error"], "0 updates available, 1 error"),
        (["update_available", "error", "error"], "1 update available, 2 errors"),
        (["update_available"] * 3 + ["error"] + ["skipped"] * 4, "3 updates available, 1 error"),
    ],
)
def test_summary(kinds: list[str], expected: str) -> None:
    report = ScanReport(containers=[status(k) for k in kinds])
    assert report.summary == expected


def test_count() -> None:
    report = ScanReport(containers=[status(k) for k in ["error", "skipped", "skipped"]])
    assert (report.count("skipped"), report.count("error"), report.count("up_to_date")) == (2, 1, 0)


# --- a whole scan: each registry ask once, then one status per container ------------------

NGINX = "docker.io/library/nginx:latest"


def test_distinct_references_asks_each_tag_once_and_skips_final_plans() -> None:
    plans = [
        plan_check(container(name=n, image=i), PolicyConfig())
        for n, i in [("b", "nginx:latest"), ("a", "nginx"), ("c", "redis:7"), ("d", IMAGE_ID)]
    ]
    assert distinct_references(plans) == [NGINX, "docker.io/library/redis:7"]


def at(resolved_at: float, error: str | None = None) -> DigestResolution:
    digest = None if error else NEWER
    return DigestResolution(reference=NGINX, digest=digest, error=error, resolved_at=resolved_at)


def test_only_errors_older_than_the_ttl_before_the_scan_are_stale() -> None:
    answers = {
        "old-error": at(100.0, "down"),
        "fresh-error": at(990.0, "down"),
        "this-scan": at(1_001.0, "down"),  # asked after the scan started: never stale
        "old-answer": at(0.0),
    }
    assert stale_errors(answers, scan_started=1_000.0, error_ttl=60.0) == ["old-error"]
    assert stale_errors(answers, scan_started=1_000.0, error_ttl=5.0) == [
        "old-error",
        "fresh-error",
    ]


def scan_of(*containers: ContainerInfo) -> list[CheckPlan]:
    return [plan_check(c, PolicyConfig()) for c in containers]


def test_one_platform_lookup_per_repository_digest_and_platform() -> None:
    plans = scan_of(
        container(name="web1"),
        container(name="web2"),  # same image, same platform: shares web1's lookup
        container(name="arm", platform="linux/arm64"),
        container(name="pinned", image=f"nginx@{LOCAL}"),  # final: no lookup
    )
    index = {NGINX: remote(NEWER, is_index=True)}
    assert platform_lookups(plans, index) == [
        ("docker.io/library/nginx", NEWER, "linux/amd64"),
        ("docker.io/library/nginx", NEWER, "linux/arm64"),
    ]


@pytest.mark.parametrize(
    "answer",
    [remote(NEWER), remote(LOCAL, is_index=True), remote(error="registry down")],
    ids=["single-manifest", "index-unchanged", "registry-error"],
)
def test_no_platform_lookup_when_the_tag_answers_alone(answer: DigestResolution) -> None:
    assert platform_lookups(scan_of(container()), {NGINX: answer}) == []


def test_judge_all_keeps_order_final_statuses_and_platform_answers() -> None:
    plans = scan_of(
        container(name="amd", labels={"team": "a"}),
        container(name="pinned", image=f"nginx@{LOCAL}", labels={"team": "b"}),
        container(name="arm", platform="linux/arm64"),
        container(name="redis", image="redis:7"),
    )
    answers = {
        NGINX: remote(NEWER, is_index=True),
        "docker.io/library/redis:7": remote(error="registry down"),
    }
    platforms = {
        ("docker.io/library/nginx", NEWER, "linux/amd64"): PlatformAnswer(config=IMAGE_ID),
        ("docker.io/library/nginx", NEWER, "linux/arm64"): PlatformAnswer(error="no arm64"),
    }
    statuses = judge_all(plans, answers, platforms)
    assert [(s.name, s.status, s.reason) for s in statuses] == [
        ("amd", "up_to_date", "the index changed only for other platforms than linux/amd64"),
        ("pinned", "skipped", f"pinned to digest {LOCAL} (policy.skipPinnedDigest)"),
        ("arm", "error", "no arm64"),
        ("redis", "error", "registry down"),
    ]
    # What discovery found travels with each status, final ones too, but not into --json.
    assert [s.labels for s in statuses[:2]] == [{"team": "a"}, {"team": "b"}]
    assert "labels" not in statuses[0].model_dump()


def test_labels_survive_the_result_a_resumed_update_run_reads() -> None:
    # A suspended update run starts again from the top and reuses its scan's persisted result
    # (Prefect's default serializer): the approval and compose labels must come back with it.
    from prefect.serializers import PickleSerializer

    labels = {"watchdocker.approval": "totp"}
    report = ScanReport(containers=[judge(planned(container(labels=labels)), remote(NEWER))])
    serializer = PickleSerializer()
    assert serializer.loads(serializer.dumps(report)).containers[0].labels == labels
