"""The scan flow against the real engine and the real registries of the test bed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from faults import LOCAL_BUILDS_CHECKED, container_on, dead_address, faulty_registry

import testbed as tb
from watchdocker.container_status import ContainerStatus

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("remove_containers")]

Scan = Callable[..., dict[str, ContainerStatus]]


@pytest.fixture
def scan(prefect_server: str, write_config: Callable[..., Path]) -> Scan:
    """Runs the scan flow in this process; returns this run's containers by name."""
    from watchdocker.flows.scan import scan as scan_flow

    def run(config: Path | None = None, **sections: object) -> dict[str, ContainerStatus]:
        path = config or write_config(**sections)
        report = scan_flow(config_file=str(path))
        return {c.name: c for c in report.containers if c.name.startswith(f"wdt-{tb.RUN_ID}")}

    return run


def name(suffix: str) -> str:
    return f"wdt-{tb.RUN_ID}-{suffix}"


def publish(ref: str, marker: str) -> str:
    """Builds a distinct image as `ref`, pushes it; returns the pushed digest."""
    tb.build_image(ref, marker=marker)
    return tb.push(ref)


def start(ref: str, suffix: str, labels: dict[str, str] | None = None) -> str:
    container = name(suffix)
    tb.run_container(ref, "sleep", "3600", name=container, labels=labels)
    return container


NO_CACHE = {"scan": {"cacheTTL": "0s"}}


def test_open_registry_up_to_date_then_update_available(scan: Scan):
    ref = tb.repo("open", "web") + ":stable"
    first = publish(ref, "web-1")
    container = start(ref, "open-web")
    status = scan(**NO_CACHE)[container]
    assert (status.status, status.local_digest, status.remote_digest) == (
        "up_to_date",
        first,
        first,
    )
    # A new image under the same tag; the container still runs the first.
    second = publish(ref, "web-2")
    status = scan(**NO_CACHE)[container]
    assert status.status == "update_available", status.reason
    assert (status.local_digest, status.remote_digest) == (first, second)
    assert status.running is True


def test_basic_auth_with_configured_credentials(scan: Scan):
    ref = tb.repo("basic", "api") + ":latest"
    digest = publish(ref, "api-1")
    container = start(ref, "basic-api")
    auth = [{"host": tb.BASIC, "username": "basicuser", "password": "basicpass"}]
    status = scan(registry={"auth": auth}, **NO_CACHE)[container]
    assert (status.status, status.remote_digest) == ("up_to_date", digest)

    wrong = [{"host": tb.BASIC, "username": "basicuser", "password": "not-the-password"}]
    status = scan(registry={"auth": wrong}, **NO_CACHE)[container]
    assert status.status == "error"
    assert "401" in status.reason and tb.BASIC in status.reason and "basicuser" in status.reason
    assert "not-the-password" not in status.reason


def test_bearer_token_with_env_credentials_and_with_docker_login(
    scan: Scan, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    ref = tb.repo("bearer", "db") + ":latest"
    digest = publish(ref, "db-1")
    container = start(ref, "bearer-db")
    empty = tmp_path / "no-docker-config"
    empty.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(empty))
    status = scan(**NO_CACHE)[container]
    assert status.status == "error" and "docker login" in status.reason

    monkeypatch.setenv("WATCH_REGISTRY_AUTH_0_HOST", tb.BEARER)
    monkeypatch.setenv("WATCH_REGISTRY_AUTH_0_USERNAME", "tokenuser")
    monkeypatch.setenv("WATCH_REGISTRY_AUTH_0_PASSWORD", "tokenpass")
    status = scan(**NO_CACHE)[container]
    assert (status.status, status.remote_digest) == ("up_to_date", digest)

    # `docker login` alone: the bed's Docker CLI config holds the credentials.
    for var in ("HOST", "USERNAME", "PASSWORD"):
        monkeypatch.delenv(f"WATCH_REGISTRY_AUTH_0_{var}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tb.DOCKER_CONFIG_DIR))
    status = scan(**NO_CACHE)[container]
    assert (status.status, status.remote_digest) == ("up_to_date", digest)


def test_anonymous_bearer_for_public_repositories(
    scan: Scan, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    ref = tb.public_repo("pub") + ":latest"
    digest = publish(ref, "pub-1")
    container = start(ref, "public")
    mark = tb.token_log_mark()
    status = scan(**NO_CACHE)[container]
    assert (status.status, status.remote_digest) == ("up_to_date", digest)
    tokens = tb.token_requests(mark, repos=[ref])
    assert tokens and all(t["anonymous"] for t in tokens)


def test_multi_arch_index_judged_for_this_platform(scan: Scan):
    # Sources in another repository: pulled through the index, the image has one RepoDigest.
    sources = tb.repo("open", "multi-src")
    amd1, arm1, arm2, amd2 = (f"{sources}:{n}" for n in ("amd1", "arm1", "arm2", "amd2"))
    base = tb.repo("open", "multi")
    for ref, marker in ((amd1, "amd-1"), (arm1, "arm-1"), (arm2, "arm-2"), (amd2, "amd-2")):
        publish(ref, marker)
    tag = f"{base}:latest"
    first = tb.make_index(tag, [(amd1, "linux/amd64", None), (arm1, "linux/arm64", None)])
    tb.docker_cli("rmi", tag, check=False)
    tb.pull(tag)
    container = start(tag, "multi")
    status = scan(**NO_CACHE)[container]
    assert (status.status, status.remote_digest) == ("up_to_date", first)

    other_only = tb.make_index(tag, [(amd1, "linux/amd64", None), (arm2, "linux/arm64", None)])
    status = scan(**NO_CACHE)[container]
    assert status.status == "up_to_date", status.reason
    assert status.remote_digest == other_only and status.local_digest == first
    assert "only for other platforms" in status.reason

    ours = tb.make_index(tag, [(amd2, "linux/amd64", None), (arm2, "linux/arm64", None)])
    status = scan(**NO_CACHE)[container]
    assert (status.status, status.remote_digest) == ("update_available", ours)
    assert "linux/amd64" in status.reason


def test_policy_pinned_local_build_and_labels(scan: Scan):
    ref = tb.repo("open", "pol") + ":latest"
    digest = publish(ref, "pol-1")
    pinned = start(f"{tb.repo('open', 'pol')}@{digest}", "pinned")
    # Built here, never pushed: no RepoDigests. Named for the open registry so that, forced,
    # it is looked up there and not on Docker Hub (tests never reach the internet).
    local_tag = tb.repo("open", "local") + ":dev"
    tb.build_image(local_tag, marker="local")
    local = start(local_tag, "local")
    skip = start(ref, "skip", {"watchdocker.skip": "true"})
    forced_local = start(local_tag, "forced-local", {"watchdocker.force": "true"})
    semver_ref = tb.repo("open", "pol") + ":1.2.3"
    tb.docker_cli("tag", ref, semver_ref)
    tb.push(semver_ref)
    semver = start(semver_ref, "semver")
    statuses = scan(**NO_CACHE)
    assert statuses[pinned].status == "skipped" and "pinned" in statuses[pinned].reason
    assert statuses[local].status == "skipped" and "local build" in statuses[local].reason
    assert statuses[skip].status == "skipped" and "watchdocker.skip" in statuses[skip].reason
    assert statuses[semver].status == "skipped" and "1.2.3" in statuses[semver].reason
    # Forced, the local build is checked: its tag is in no registry.
    assert statuses[forced_local].status == "error" and "404" in statuses[forced_local].reason

    statuses = scan(
        policy={"skipSemverPinned": False, "onlyLabels": [tb.label_filter()]}, **NO_CACHE
    )
    assert statuses[semver].status == "up_to_date"


def test_container_created_from_an_image_id_is_skipped_with_a_reason(scan: Scan):
    ref = tb.repo("open", "ok") + ":latest"
    publish(ref, "ok-1")
    good = start(ref, "good")
    image_id = tb.docker_cli("image", "inspect", "--format", "{{.Id}}", ref).strip()
    by_id = start(image_id, "by-id")
    statuses = scan(**NO_CACHE)
    assert statuses[good].status == "up_to_date"
    assert statuses[by_id].status == "skipped" and "image ID" in statuses[by_id].reason


def test_registry_down_slow_and_garbage(scan: Scan):
    down = container_on(dead_address(), "down")
    with faulty_registry("slow") as slow_registry, faulty_registry("garbage") as garbage_registry:
        slow = container_on(slow_registry.address, "slow")
        garbage = container_on(garbage_registry.address, "garbage")
        ok_ref = tb.repo("open", "fine") + ":latest"
        publish(ok_ref, "fine-1")
        fine = start(ok_ref, "fine")
        statuses = scan(
            # The slow registry answers after 30 s; the others have 3 s, on a loaded machine.
            registry={"timeout": "3s", "retries": 1},
            policy=LOCAL_BUILDS_CHECKED,
            **NO_CACHE,
        )
    assert statuses[fine].status == "up_to_date"
    assert statuses[down].status == "error" and "cannot be reached" in statuses[down].reason
    assert statuses[slow].status == "error" and "did not answer within" in statuses[slow].reason
    assert statuses[garbage].status == "error"
    assert "not an image manifest" in statuses[garbage].reason


def test_rate_limited_registry_is_asked_again_after_retry_after(scan: Scan):
    base_id = tb.docker_cli("image", "inspect", "--format", "{{.Id}}", tb.BASE_IMAGE).strip()
    with faulty_registry("rate-limit", image_id=base_id, rate_limited=1) as registry:
        limited = container_on(registry.address, "limited")
        status = scan(policy=LOCAL_BUILDS_CHECKED, **NO_CACHE)[limited]
    assert status.status == "up_to_date", status.reason
    heads = [at for method, _, at in registry.requests if method == "HEAD"]
    assert len(heads) == 2  # one 429, then the answer
    assert heads[1] - heads[0] >= 1.0  # Retry-After: 1


def test_economy_counted_at_the_registry(
    scan: Scan, prefect_server: str, write_config, monkeypatch
):
    """6 containers over 2 references: at most 2 manifest requests and one token per scope;
    a second scan within the TTL as the schedule runs it (`fresh=False`), in a new process,
    asks the registry nothing."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tb.DOCKER_CONFIG_DIR))
    refs = [tb.repo("bearer", "eco-a") + ":latest", tb.repo("bearer", "eco-b") + ":latest"]
    for n, ref in enumerate(refs):
        publish(ref, f"eco-{n}")
    for i in range(6):
        start(refs[i % 2], f"eco-{i}")
    config = write_config(scan={"cacheTTL": "10m"})
    registry_mark, token_mark = tb.registry_log_mark("bearer"), tb.token_log_mark()
    statuses = scan(config)
    assert [s.status for n, s in statuses.items() if "-eco-" in n] == ["up_to_date"] * 6
    manifest_requests = [
        r
        for r in tb.registry_requests("bearer", registry_mark, repos=refs)
        if "/manifests/" in r["uri"]
    ]
    assert len(manifest_requests) <= 2, manifest_requests
    scopes = [s for t in tb.token_requests(token_mark, repos=refs) for s in t["scope"]]
    assert sorted(scopes) == sorted(set(scopes)) and len(scopes) == 2

    registry_mark, token_mark = tb.registry_log_mark("bearer"), tb.token_log_mark()
    scheduled_like = (
        "import sys; from watchdocker.flows.scan import scan; "
        "print(scan(config_file=sys.argv[1], fresh=False).model_dump_json())"
    )
    run = subprocess.run(
        [sys.executable, "-c", scheduled_like, str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_CONFIG": str(tb.DOCKER_CONFIG_DIR)},
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    second = {c["name"]: c for c in json.loads(run.stdout)["containers"]}
    assert all(second[n]["status"] == "up_to_date" for n in statuses if "-eco-" in n)
    assert tb.registry_requests("bearer", registry_mark, repos=refs) == []
    assert tb.token_requests(token_mark, repos=refs) == []


def test_artifact_and_run_name_in_prefect(scan: Scan, prefect_server: str):
    from prefect.client.orchestration import get_client

    ref = tb.repo("open", "art") + ":latest"
    publish(ref, "art-1")
    container = start(ref, "art")
    publish(ref, "art-2")
    assert scan(**NO_CACHE)[container].status == "update_available"
    with get_client(sync_client=True) as client:
        artifact = client.read_latest_artifacts(limit=50)
        scan_artifacts = [a for a in artifact if a.key == "watchdocker-scan"]
        assert scan_artifacts, "the scan published no table artifact"
        rows = scan_artifacts[0].data
        rows = json.loads(rows) if isinstance(rows, str) else rows
        mine = [r for r in rows if r["name"] == container]
        assert mine and mine[0]["status"] == "update_available"
        run = client.read_flow_run(scan_artifacts[0].flow_run_id)
        assert run.name.startswith("scan: ") and "update" in run.name


def test_credentials_from_a_prefect_block(
    scan: Scan, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    from prefect_docker.credentials import DockerRegistryCredentials

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no `docker login` to fall back on
    ref = tb.repo("basic", "blocked") + ":latest"
    digest = publish(ref, "blocked-1")
    container = start(ref, "block-creds")
    block_name = f"wdt-{tb.RUN_ID}-basic"
    DockerRegistryCredentials(
        username="basicuser", password="basicpass", registry_url=f"http://{tb.BASIC}"
    ).save(block_name, overwrite=True)
    try:
        status = scan(**NO_CACHE)[container]
    finally:
        DockerRegistryCredentials.delete(block_name)
    assert (status.status, status.remote_digest) == ("up_to_date", digest)
