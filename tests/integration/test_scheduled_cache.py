"""The digest cache as `watch-docker serve` uses it: runs the scheduler creates reuse it, a run a
person starts from the UI asks the registry afresh and leaves its answer for the scheduled runs
that follow. Registry requests are counted in the registry's own log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import yaml
from conftest import (
    _free_port,
    deployment_runs,
    finished_run,
    run_deployment,
    start_serve,
    stop_serve,
    wait_for,
)

import testbed as tb

# Beside the other quiet modules only, and the shared tests under nice (testbed/run-tests.sh):
# it waits for a moment when none of its 10 s scans runs, and on a machine loaded by the other
# tests as their equal each scan took longer than the interval, so that moment never came (a
# suite run).
pytestmark = [pytest.mark.integration, pytest.mark.quiet]

SCAN_INTERVAL = 10  # seconds, the shortest allowed
# A slot of the interval, the Runner's 10 s poll and the scan itself, with room.
NEXT_RUN_WAIT = SCAN_INTERVAL + 10 + 60
REPO = "fresh-sched"
ONLY = f"watchdocker.test.cache={tb.RUN_ID}"  # this module's container, none of the others


@pytest.fixture(scope="module")
def served_with_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ref = tb.repo("open", REPO) + ":latest"
    tb.build_image(ref, marker=f"{REPO}-1")
    tb.push(ref)
    container = tb.run_container(
        ref, "sleep", "600", name=f"wdt-{tb.RUN_ID}-{REPO}", labels={ONLY.split("=")[0]: tb.RUN_ID}
    )
    tmp = tmp_path_factory.mktemp("scheduled-cache")
    config = tmp / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "scan": {"interval": f"{SCAN_INTERVAL}s", "cacheTTL": "10m"},
                "policy": {"onlyLabels": [ONLY]},
            }
        )
    )
    api, process = start_serve(tmp, config, _free_port())
    yield api
    stop_serve(process)
    tb.docker_cli("rm", "-f", container, check=False)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def scheduled_scan_after(api: str, after: datetime | None) -> dict:
    """A completed scheduled scan that started after `after` (any, when None)."""

    def found() -> dict | None:
        runs = [
            r
            for r in deployment_runs(api, "scan")
            if r["auto_scheduled"]
            and r["state_type"] == "COMPLETED"
            and (after is None or _time(r["start_time"]) > after)
        ]
        return runs[0] if runs else None

    return wait_for(found, timeout=NEXT_RUN_WAIT)  # type: ignore[return-value]


def no_scan_running(api: str) -> None:
    def quiet() -> bool:
        return not [
            r for r in deployment_runs(api, "scan") if r["state_type"] in ("PENDING", "RUNNING")
        ]

    wait_for(quiet, timeout=NEXT_RUN_WAIT)


def manifest_requests(since_line: int) -> list[dict]:
    return [
        r for r in tb.registry_requests("open", since_line) if f"/{REPO}/manifests/" in r["uri"]
    ]


def test_scheduled_runs_keep_the_cache_and_a_manual_run_refreshes_it(served_with_cache: str):
    api = served_with_cache
    first = scheduled_scan_after(api, None)
    assert first["name"] == "scan: 0 updates available", first
    # The first scheduled scan filled the cache; the next ones ask the registry nothing. (On a
    # busy machine a scan may start before the one before it ended: mark once none runs.)
    no_scan_running(api)
    mark, marked = tb.registry_log_mark("open"), datetime.now(UTC)
    second = scheduled_scan_after(api, marked)
    assert second["name"] == "scan: 0 updates available", second
    assert manifest_requests(mark) == []

    # An image is pushed; a person runs the scan deployment from the UI: it asks afresh.
    ref = tb.repo("open", REPO) + ":latest"
    tb.build_image(ref, marker=f"{REPO}-2")
    tb.push(ref)
    mark = tb.registry_log_mark("open")
    manual = finished_run(api, run_deployment(api, "scan"))
    assert not manual["auto_scheduled"]
    assert manual["state_type"] == "COMPLETED", manual
    assert manual["name"] == "scan: 1 update available", manual
    assert manifest_requests(mark)

    # The scheduled scans that follow reuse that fresh answer, still without a request.
    no_scan_running(api)
    mark, marked = tb.registry_log_mark("open"), datetime.now(UTC)
    after = scheduled_scan_after(api, marked)
    assert after["name"] == "scan: 1 update available", after
    assert manifest_requests(mark) == []
