"""What scan and update flow runs leave under the state directory for serve's API: the scan's
result (per engine, a scan of some containers replacing theirs only) and the runs' counts for
/metrics, a failed scan's included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from faults import LOCAL_BUILDS_CHECKED, container_on, dead_address

import testbed as tb
from watchdocker.engine.client import connect
from watchdocker.run_metrics import read_totals
from watchdocker.scan_store import load_scan

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("remove_containers")]

NO_CACHE = {"scan": {"cacheTTL": "0s"}}


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state directory of the test's own (the session's is shared by every scan)."""
    folder = tmp_path / "own-state"
    monkeypatch.setenv("WATCH_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def engine_id() -> str:
    engine = connect()
    try:
        return str(engine.info()["ID"])
    finally:
        engine.close()


def test_a_scan_saves_its_result_and_counts(
    prefect_server: str, write_config: Callable[..., Path], engine_id: str, state: Path
):
    from watchdocker.flows.scan import scan

    ref = tb.repo("open", "rec") + ":latest"
    tb.build_image(ref, marker="rec-1")
    tb.push(ref)
    fine = f"wdt-{tb.RUN_ID}-rec-fine"
    tb.run_container(ref, "sleep", "600", name=fine)
    down_registry = dead_address()
    down = container_on(down_registry, "rec-down")
    config = write_config(
        registry={"timeout": "1s", "retries": 0}, policy=LOCAL_BUILDS_CHECKED, **NO_CACHE
    )
    scan(config_file=str(config))
    saved = load_scan(state, engine_id)
    assert saved is not None
    statuses = {c.name: c.status for c in saved.containers}
    assert (statuses[fine], statuses[down]) == ("up_to_date", "error")
    totals = read_totals(state)
    assert totals.scans == {"errors": 1}
    # Other tests of this run may have failing containers of their own on other registries.
    assert totals.registry_errors[down_registry] == 1
    assert totals.registry_requests[tb.OPEN] >= 2  # /v2/ and the manifest's HEAD
    assert totals.scan_durations.count == 1 and totals.scan_durations.seconds > 0

    # A scan of one container (an update's) replaces its entry only.
    tb.docker_cli("rm", "-f", down)
    scan(config_file=str(config), names=[fine])
    again = load_scan(state, engine_id)
    assert again is not None and again.scanned_at == saved.scanned_at
    assert {c.name for c in again.containers} >= {fine, down}
    assert read_totals(state).scans == {"errors": 1, "ok": 1}


def test_a_failed_scan_counts_as_failed(
    prefect_server: str, write_config: Callable[..., Path], state: Path
):
    from watchdocker.flows.scan import scan

    config = write_config(docker={"host": f"tcp://{dead_address()}"})
    run = scan(config_file=str(config), return_state=True)
    assert run.is_failed()
    totals = read_totals(state)
    assert totals.scans == {"failed": 1} and totals.scan_durations.count == 1


def test_an_update_run_counts_its_containers_results(
    prefect_server: str, write_config: Callable[..., Path], engine_id: str, state: Path
):
    from watchdocker.flows.update import update

    outdated, _, _ = tb.outdated_container("rec-upd")
    config = write_config(**NO_CACHE)
    report = update(containers=[outdated], dry_run=True, config_file=str(config))
    assert [r.result for r in report.results] == ["would_update"]
    totals = read_totals(state)
    assert totals.updates == {"would_update": 1} and totals.update_durations.count == 1
    assert totals.scans == {"ok": 1}  # the update's own scan
    saved = load_scan(state, engine_id)  # which saved its one container
    assert saved is not None
    assert [(c.name, c.status) for c in saved.containers] == [(outdated, "update_available")]
