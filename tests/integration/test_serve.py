"""`watch-docker serve`, the main job, as a user starts it: its own local Prefect server,
the deployments with their schedules, a scan run triggered through the API, a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

import testbed as tb

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen]]:
    """`watch-docker serve` with nothing but a config file: no PREFECT_API_URL, no server."""
    tmp = tmp_path_factory.mktemp("serve")
    config = tmp / "config.yaml"
    config.write_text(
        "scan:\n  interval: 2h\n"
        "update:\n  enabled: true\n  autoUpdateCron: '0 4 * * *'\n"
        f"policy:\n  onlyLabels: ['{tb.label_filter()}']\n"
    )
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"PREFECT_API_URL", "PREFECT_HOME"}}
    env.update(WATCH_SERVER_ADDR=f"127.0.0.1:{port}", WATCH_STATE_DIR=str(tmp / "state"))
    process = subprocess.Popen(
        [sys.executable, "-m", "watchdocker.cli.app", "serve", "--config", str(config)],
        stdout=(tmp / "out.log").open("w"),
        stderr=(tmp / "err.log").open("w"),
        env=env,
    )
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while len(deployments(api)) < 3:
        assert process.poll() is None, (tmp / "err.log").read_text()
        assert time.monotonic() < deadline, "serve did not register its deployments"
        time.sleep(0.5)
    yield api, process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def deployments(api: str) -> dict[str, dict]:
    try:
        answer = httpx.post(f"{api}/deployments/filter", json={}, timeout=5)
    except httpx.HTTPError:
        return {}
    return {d["name"]: d for d in answer.json()} if answer.status_code == 200 else {}


def wait_for(check: Callable[[], object], timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    return found


def test_deployments_and_their_schedules(served):
    api, _ = served
    found = deployments(api)
    assert set(found) == {"scan", "update", "auto-update"}
    [scan] = found["scan"]["schedules"]
    assert scan["schedule"]["interval"] == 7200 and scan["active"]
    [auto] = found["auto-update"]["schedules"]
    assert auto["schedule"]["cron"] == "0 4 * * *"
    assert found["update"]["schedules"] == []
    schema = found["update"]["parameter_openapi_schema"]["properties"]
    assert {"containers", "all", "dry_run"} <= set(schema)


def test_blocks_are_registered_for_the_ui(served):
    api, _ = served
    for slug in ("docker-registry-credentials", "apprise-notifier", "docker-host"):
        assert httpx.get(f"{api}/block_types/slug/{slug}", timeout=5).status_code == 200


def test_a_triggered_scan_runs_and_publishes_its_table(served):
    api, _ = served
    ref = tb.repo("open", "served") + ":latest"
    tb.build_image(ref, marker="served-1")
    tb.push(ref)
    container = f"wdt-{tb.RUN_ID}-served"
    tb.run_container(ref, "sleep", "600", name=container)
    try:
        scan = deployments(api)["scan"]
        run = httpx.post(f"{api}/deployments/{scan['id']}/create_flow_run", json={}, timeout=10)
        run_id = run.json()["id"]

        def finished() -> dict | None:
            state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()
            return state if state["state_type"] in ("COMPLETED", "FAILED", "CRASHED") else None

        state = wait_for(finished)
        assert state["state_type"] == "COMPLETED", state
        assert state["name"].startswith("scan: ")
        artifacts = httpx.post(
            f"{api}/artifacts/filter",
            json={"artifacts": {"flow_run_id": {"any_": [run_id]}}},
            timeout=5,
        ).json()
        [table] = [a for a in artifacts if a["key"] == "watchdocker-scan"]
        assert container in str(table["data"]) and "up_to_date" in str(table["data"])
    finally:
        tb.docker_cli("rm", "-f", container, check=False)


def test_stops_cleanly_on_sigterm(served, tmp_path: Path):
    api, process = served
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{api}/health", timeout=2)
