"""The schedules fire by themselves: `watch-docker serve` as a user starts it, with a short
`scan.interval` and an `update.autoUpdateCron` of every minute, and nothing triggered by hand.

How long to wait, from Prefect 3.8.8: the server's `schedule_recent_deployments` service
schedules a deployment within 5 s of its registration (the main scheduler loops every 60 s), and
the Runner polls every 10 s for runs due within the next 10 s. So the first interval run starts
within interval + ~15 s, and the cron run within 60 s + ~15 s of serve's start, plus its work."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import yaml
from conftest import _free_port, deployment_runs, start_serve, stop_serve, wait_for

import testbed as tb

# Beside the other quiet modules only, and the shared tests under nice (testbed/run-tests.sh):
# beside the other tests as their equal, on a machine they load, runs and notifications came
# later than the schedule's bounds (suite runs).
pytestmark = [pytest.mark.integration, pytest.mark.quiet]

SCAN_INTERVAL = 15  # seconds
# Two interval runs, a cron minute, the Runner's poll and the auto-update's own work, with room.
SCHEDULE_WAIT = 2 * SCAN_INTERVAL + 60 + 60


# This module's container only: containers that tests before it on this worker left until the
# session's cleanup (one waiting for an approval) would be in the auto-update's run too.
ONLY = f"watchdocker.test.schedules={tb.RUN_ID}"


@pytest.fixture(scope="module")
def outdated() -> tuple[str, str]:
    name, _, v2_id = tb.outdated_container("sched", "--label", ONLY)
    return name, v2_id


@pytest.fixture(scope="module")
def scheduled_serve(
    tmp_path_factory: pytest.TempPathFactory, outdated: tuple[str, str]
) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("schedules")
    config = tmp / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "scan": {"interval": f"{SCAN_INTERVAL}s"},
                "update": {
                    "enabled": True,
                    "autoUpdateCron": "* * * * *",
                    "stableSeconds": "1s",
                },
                "policy": {"onlyLabels": [ONLY]},
            }
        )
    )
    api, process = start_serve(tmp, config, _free_port())
    yield api
    stop_serve(process)


def completed_runs(api: str, deployment: str, count: int) -> list[dict] | None:
    """`count` completed runs of the deployment, or None while there are fewer."""
    done = [r for r in deployment_runs(api, deployment) if r["state_type"] == "COMPLETED"]
    return done if len(done) >= count else None


def inspect_image(container: str) -> str:
    return tb.docker_cli("inspect", "--format", "{{.Image}}", container).strip()


def test_interval_scans_run_by_themselves(scheduled_serve: str):
    started = time.monotonic()
    runs = wait_for(lambda: completed_runs(scheduled_serve, "scan", 2), timeout=SCHEDULE_WAIT)
    assert all(run["auto_scheduled"] for run in runs), runs  # the scheduler's, not ours
    starts = sorted(run["expected_start_time"] for run in runs)
    assert len(set(starts)) == len(starts)  # distinct slots of the interval
    assert all(run["name"].startswith("scan: ") for run in runs), runs
    print(f"two scheduled scans completed {time.monotonic() - started:.0f}s after serve began")


def test_auto_update_runs_on_its_cron(scheduled_serve: str, outdated: tuple[str, str]):
    container, v2_id = outdated
    [run] = wait_for(
        lambda: completed_runs(scheduled_serve, "auto-update", 1), timeout=SCHEDULE_WAIT
    )[:1]
    assert run["auto_scheduled"], run
    # A cron of every minute: the run was due on a whole minute.
    assert run["expected_start_time"].split(":", 2)[2].startswith("00"), run
    assert "1 updated" in run["name"], run
    assert inspect_image(container) == v2_id
