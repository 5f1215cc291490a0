"""Updates that meet each other or a held port, as real processes on the real engine: two
updates of one container at once, orphan aside containers, and a rollback that cannot restart
the old container at all (test_update.py has one that can, after a while)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import start_cli, watch_docker
from prefect.exceptions import ObjectNotFound
from test_update import (
    FAST,
    _free_port,
    cli_update_paused_at,
    containers_named,
    hold_port_during_update,
    inspect,
    journal_step,
    run_v1,
    two_versions,
)

import testbed as tb
from watchdocker.config import load_settings
from watchdocker.update.journal import aside_name

pytestmark = [
    pytest.mark.integration,
    pytest.mark.long,  # minutes: handed out first
    pytest.mark.usefixtures("remove_containers"),
]


@pytest.fixture
def config(write_config: Callable[..., Path]) -> Callable[..., Path]:
    def make(**sections: object) -> Path:
        update = {**FAST, **sections.pop("update", {})}  # type: ignore[dict-item]
        return write_config(scan={"cacheTTL": "0s"}, update=update, **sections)

    return make


@pytest.mark.parametrize("attempt", range(3))
def test_two_updates_of_one_container_at_once(attempt: int, config, prefect_server: str):
    ref, v2_id = two_versions(f"race{attempt}")
    container = run_v1(ref, f"race{attempt}")
    # Long enough a health check that the two runs meet while one of them holds the lock.
    cfg = config(update={"stableSeconds": "3s"})
    both = [start_cli("update", container, "--json", "--config", str(cfg)) for _ in range(2)]
    outputs = [p.communicate(timeout=240) for p in both]
    for process, (_, err) in zip(both, outputs, strict=True):
        assert process.returncode == 0, err
        assert "Traceback" not in err and "404 Client Error" not in err, err
    results = sorted(
        (json.loads(out)["results"] for out, _ in outputs), key=lambda r: r[0]["result"]
    )
    [[other], [done]] = results
    assert done["result"] == "updated", done
    # The other run met the lock, or came after: it says so and did nothing; or its scan
    # already saw the new image.
    assert other["result"] in ("skipped", "up_to_date"), other
    if other["result"] == "skipped":
        assert (
            "is in progress" in other["reason"]
            or "was updated by another run meanwhile" in other["reason"]
        ), other["reason"]
    assert containers_named(container) == [container]  # no aside container left
    now = inspect(container)
    assert now["Image"] == v2_id and now["State"]["Running"]
    recovered = watch_docker("recover", "--config", str(cfg))
    assert recovered.returncode == 0, recovered.stderr
    assert recovered.stdout.strip() == "nothing to recover"
    assert containers_named(container) == [container] and inspect(container)["Id"] == now["Id"]


def test_two_runs_creating_the_update_slots_at_once_both_go_on(prefect_server: str):
    from prefect.client.orchestration import get_client

    from watchdocker.config import Settings
    from watchdocker.flows.update import _ensure_slots
    from watchdocker.tasks.update import UPDATE_SLOTS

    errors: list[Exception] = []

    def ensure(start: threading.Barrier) -> None:
        start.wait()
        try:
            _ensure_slots(Settings())
        except Exception as exc:  # what a run would die of
            errors.append(exc)

    for _ in range(8):  # Prefect's read-then-create lets about every other pair collide
        with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
            client.delete_global_concurrency_limit_by_name(UPDATE_SLOTS)
        start = threading.Barrier(2)
        runs = [threading.Thread(target=ensure, args=(start,)) for _ in range(2)]
        for run in runs:
            run.start()
        for run in runs:
            run.join(60)
    assert errors == []


def _orphan(suffix: str) -> tuple[str, str]:
    """A stopped container under the aside name of service `suffix`, as a race of older
    versions left it: no journal entry speaks of it. Returns (service name, its id)."""
    ref, _ = two_versions(suffix)
    service = run_v1(ref, suffix)
    old_id = inspect(service)["Id"]
    tb.docker_cli("stop", service)
    tb.docker_cli("rename", service, aside_name(service, old_id))
    return service, old_id


@pytest.mark.parametrize("remove_old", [True, False])
def test_recover_removes_an_orphan_aside_beside_a_running_service(remove_old: bool, config):
    suffix = f"orphan-beside-{'removed' if remove_old else 'kept'}"
    service, old_id = _orphan(suffix)
    tb.run_container(
        tb.repo("open", suffix) + ":latest",
        *tb.STOPPABLE_SLEEP,
        name=service,
    )
    running_id = inspect(service)["Id"]
    recovered = watch_docker(
        "recover", "--config", str(config(update={"removeOldContainer": remove_old}))
    )
    assert recovered.returncode == 0, recovered.stderr
    if remove_old:
        assert recovered.stdout.strip() == f"{service}: interrupted update finished"
        assert containers_named(service) == [service]
    else:  # the old container update.removeOldContainer keeps: left alone
        assert recovered.stdout.strip() == "nothing to recover"
        assert containers_named(service) == sorted([service, aside_name(service, old_id)])
    now = inspect(service)
    assert now["Id"] == running_id and now["State"]["Running"]
    if remove_old:
        with pytest.raises(tb.DockerError):
            tb.docker_cli("inspect", old_id)


def test_recover_gives_an_orphan_aside_its_name_back_when_the_service_has_none(config):
    service, old_id = _orphan("orphan-alone")
    recovered = watch_docker("recover", "--config", str(config()))
    assert recovered.returncode == 0, recovered.stderr
    assert recovered.stdout.strip() == f"{service}: interrupted update rolled back"
    assert containers_named(service) == [service]
    now = inspect(service)
    assert now["Id"] == old_id and now["State"]["Running"]


def test_a_failed_rollback_is_recovered_by_the_next_scan(
    write_config: Callable[..., Path], receiver, tmp_path: Path, prefect_server: str
):
    ref, _ = two_versions("down")
    port = _free_port()
    container = run_v1(ref, "down", "-p", f"127.0.0.1:{port}:8080")
    old_id = inspect(container)["Id"]
    url = f"json://127.0.0.1:{receiver.port}/hook"
    # The rollback gives up on the old container 20 s after its first try (default 2 min).
    update = {**FAST, "rollbackRestartWindow": "20s"}
    cfg = write_config(scan={"cacheTTL": "0s"}, update=update, notify={"urls": [url]})

    def start(pause: Path) -> subprocess.Popen:
        return cli_update_paused_at("renamed", container, cfg, pause)

    process, holder = hold_port_during_update(start, container, port, cfg, tmp_path / "pause")
    try:
        out, err = process.communicate(timeout=180)
    finally:
        holder.close()
    assert process.returncode == 1, err
    [result] = json.loads(out)["results"]
    assert result["result"] == "failed", result
    assert "run `watch-docker recover`" in result["reason"]
    now = inspect(container)
    assert now["Id"] == old_id and not now["State"]["Running"]  # down, under its own name
    state_dir = load_settings(cfg).state_dir
    assert journal_step(state_dir, container) is not None  # kept for the next run
    title = f"watch-docker: updating {container} failed"
    alerts = [r.fields() for r in receiver.received if r.fields()["title"] == title]
    assert len(alerts) == 1 and "watch-docker recover" in alerts[0]["message"], alerts
    # The port is free again: a plain scan, no update, brings the service back.
    scanned = watch_docker("scan", "--json", "--config", str(cfg))
    assert scanned.returncode == 0, scanned.stderr
    now = inspect(container)
    assert now["Id"] == old_id and now["State"]["Running"]
    assert containers_named(container) == [container]
    assert journal_step(state_dir, container) is None
    assert container in [c["name"] for c in json.loads(scanned.stdout)["containers"]]


def test_aside_containers_are_never_scanned(config, prefect_server: str):
    service, old_id = _orphan("aside-scan")
    tb.run_container(tb.repo("open", "aside-scan") + ":latest", *tb.STOPPABLE_SLEEP, name=service)
    scanned = watch_docker("scan", "--json", "--include-stopped", "--config", str(config()))
    assert scanned.returncode == 0, scanned.stderr
    names = [c["name"] for c in json.loads(scanned.stdout)["containers"]]
    assert service in names and aside_name(service, old_id) not in names
