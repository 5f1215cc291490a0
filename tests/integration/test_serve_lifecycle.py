"""Two `watch-docker serve` processes on one Prefect server: stopping one leaves the schedules
the other serves active; and a lone serve restarted after a stop runs one of the scheduled
runs it missed, not all of them at once."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from conftest import (
    _free_port,
    api_credential,
    deployment_runs,
    deployments,
    start_serve,
    stop_serve,
    wait_for,
)

import testbed as tb
from watchdocker.missed_runs import MISSED_AFTER

# Alone in its session, the shared tests under nice beside it (testbed/run-tests.sh): beside
# the other tests as their equal, on a machine they load, runs and notifications came later
# than the schedule's bounds (suite runs); beside the other quiet modules, the restart found no
# run of the schedule in its stop (one suite run of three).
pytestmark = [pytest.mark.integration, pytest.mark.exclusive]

INTERVAL = 10  # seconds: the shortest scan.interval there is
PREFETCH = timedelta(seconds=10)  # the prefetch_seconds of Prefect's Runner


class Serve:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        folder.mkdir(exist_ok=True)
        self.config = folder / "config.yaml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "scan": {"interval": f"{INTERVAL}s"},
                    # No container: runs are what is counted here.
                    "policy": {"onlyLabels": [f"watchdocker.test.lifecycle={tb.RUN_ID}"]},
                }
            )
        )
        self.process: subprocess.Popen | None = None

    def start(self, env: dict[str, str] | None = None) -> str:
        started = self.times_served()
        api, self.process = start_serve(self.folder, self.config, self.port, env)
        # On a server that has the deployments already, start_serve returns at once: wait for
        # this process's Runner (it takes SIGTERM from then on) and a poll of it.
        try:
            wait_for(lambda: self.times_served() > started, timeout=60)
        except BaseException:
            self.stop()  # a serve that failed to start is not left behind
            raise
        time.sleep(3)
        return api

    def times_served(self) -> int:
        out = self.folder / "out.log"
        return out.read_text().count("watch-docker: serving ") if out.exists() else 0

    def stop(self) -> int:
        assert self.process
        return stop_serve(self.process)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Serve, str]]:
    serve = Serve(tmp_path_factory.mktemp("first"), _free_port())
    api = serve.start()
    yield serve, api
    if serve.process and serve.process.poll() is None:
        serve.stop()


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_stopping_a_second_serve_leaves_the_schedules_active(first, tmp_path: Path):
    serve, api = first
    second = Serve(tmp_path / "second", _free_port())
    second.start({"PREFECT_API_URL": api, "PREFECT_API_AUTH_STRING": api_credential(api)})
    assert second.stop() == 0
    scan = deployments(api)["scan"]
    assert scan["paused"] is False and all(s["active"] for s in scan["schedules"]), scan
    # The first serve goes on running the schedule.
    after = datetime.now(UTC)
    wait_for(
        lambda: [
            r
            for r in deployment_runs(api, "scan")
            if r["state_type"] == "COMPLETED" and when(r["expected_start_time"]) > after
        ],
        timeout=INTERVAL + 110,  # a flow run takes a while to start on a busy machine
    )
    assert serve.process and serve.process.poll() is None


def test_a_restart_after_a_stop_runs_one_missed_run_not_all(first):
    serve, api = first
    assert serve.stop() == 0  # its server stops with it
    # A Runner takes runs up to PREFETCH before they are due: one due that soon after the stop
    # may have been taken by the serve that stopped. Six slots pass after that, unserved.
    stopped = datetime.now(UTC) + PREFETCH
    time.sleep(PREFETCH.total_seconds() + 6 * INTERVAL)
    restarted = datetime.now(UTC)
    serve.start()
    runs = deployment_runs(api, "scan")
    after_stop = [r for r in runs if when(r["expected_start_time"]) > stopped]
    skipped = [r for r in after_stop if r["state_type"] == "CANCELLED"]
    seen = [
        f"stop {stopped} to {restarted}; {len(runs)} runs:",
        *sorted(
            f"{r['expected_start_time']} {r['state_name']} {r['state']['timestamp']}" for r in runs
        ),
    ]
    assert len(skipped) >= 3 and all("missed" in r["state"]["message"] for r in skipped), seen
    # Missed: more than MISSED_AFTER late when serve looked, a moment before it skipped them (a
    # slow start on a busy machine puts that moment well after `restarted`). All but the newest
    # are skipped; it, and at most one more that came due in that moment, run.
    looked = min(when(r["state"]["timestamp"]) for r in skipped) - MISSED_AFTER
    overdue = [r for r in after_stop if when(r["expected_start_time"]) < looked]
    ran = [r for r in overdue if r["state_type"] != "CANCELLED"]
    assert 1 <= len(ran) <= 2, seen
    assert min(r["expected_start_time"] for r in ran) > max(
        r["expected_start_time"] for r in skipped
    ), seen
    assert all(r["state_type"] != "CANCELLED" for r in after_stop if r not in overdue), seen
    # Serve says how many it skipped: those above and any due in the prefetch window after the
    # stop that the stopping serve left behind.
    missed = [
        r
        for r in deployment_runs(api, "scan")
        if r["state_type"] == "CANCELLED" and "missed" in r["state"]["message"]
    ]
    assert f"skipped {len(missed)} scheduled runs" in (serve.folder / "out.log").read_text()

    def all_ran() -> bool:
        states = {r["id"]: r["state_type"] for r in deployment_runs(api, "scan")}
        return all(states[r["id"]] == "COMPLETED" for r in ran)

    wait_for(all_ran, timeout=60)
