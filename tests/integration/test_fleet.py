"""Two Docker engines on this machine, driven through two `DockerHost` blocks by one process:
both scanned with the digest asked of the registry once, and one of them updated."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import testbed as tb

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine2() -> Iterator[str]:
    out = subprocess.run(
        ["bash", str(REPO_ROOT / "testbed" / "second-engine.sh")],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    host = out.strip().rsplit("=", 1)[1]
    yield host
    ids = on(host, "ps", "-aq", "--filter", f"label={tb.label_filter()}").split()
    if ids:
        on(host, "rm", "-f", "-v", *ids)
    images = on(host, "images", "-q", "--filter", f"label={tb.label_filter()}").split()
    if images:
        on(host, "rmi", "-f", *sorted(set(images)), check=False)


def on(host: str, *args: str, check: bool = True) -> str:
    return tb.docker_cli("-H", host, *args, check=check)


@pytest.fixture
def hosts(prefect_server: str, engine2: str) -> Iterator[tuple[str, str]]:
    from prefect_docker.host import DockerHost

    from watchdocker.blocks.docker_host import DockerHostTLS

    first, second = f"wdt-{tb.RUN_ID}-engine1", f"wdt-{tb.RUN_ID}-engine2"
    DockerHost(base_url="unix:///var/run/docker.sock").save(first, overwrite=True)
    DockerHostTLS(base_url=engine2).save(second, overwrite=True)
    yield first, second
    DockerHost.delete(first)
    DockerHostTLS.delete(second)


def test_two_engines_one_registry_lookup_then_an_update_on_the_second(
    hosts: tuple[str, str], engine2: str, write_config
):
    from watchdocker.flows.scan import scan
    from watchdocker.flows.update import update

    first_block, second_block = hosts
    ref = tb.repo("open", "fleet") + ":latest"
    tb.build_image(ref, marker="fleet-1")
    tb.push(ref)
    on(engine2, "pull", ref)
    command = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    one, two = f"wdt-{tb.RUN_ID}-fleet-1", f"wdt-{tb.RUN_ID}-fleet-2"
    tb.run_container(ref, *command, name=one)
    on(engine2, "run", "-d", "--label", tb.label_filter(), "--name", two, ref, *command)

    cached = str(write_config(scan={"cacheTTL": "10m"}))
    mark = tb.registry_log_mark("open")
    first = {c.name: c for c in scan(config_file=cached, docker_host_block=first_block).containers}
    # The second host's scan as its schedule runs it: from the cache the first one filled.
    second = {
        c.name: c
        for c in scan(config_file=cached, docker_host_block=second_block, fresh=False).containers
    }
    assert first[one].status == second[two].status == "up_to_date"
    assert two not in first and one not in second  # each block is its own engine
    asked = [r for r in tb.registry_requests("open", mark) if "/fleet/manifests/" in r["uri"]]
    assert len(asked) == 1, asked  # the second engine reused the first one's answer

    tb.build_image(ref, marker="fleet-2")
    new_digest = tb.push(ref)
    fresh = str(write_config(scan={"cacheTTL": "0s"}, update={"stableSeconds": "1s"}))
    report = update(containers=[two], config_file=fresh, docker_host_block=second_block)
    assert [(r.name, r.result) for r in report.results] == [(two, "updated")]
    digests = on(engine2, "inspect", "--format", "{{json .RepoDigests}}",
                 on(engine2, "inspect", "--format", "{{.Image}}", two).strip())  # fmt: skip
    assert new_digest in digests
    # The first engine's container was not touched.
    assert tb.docker_cli("inspect", "--format", "{{.State.Running}}", one).strip() == "true"
