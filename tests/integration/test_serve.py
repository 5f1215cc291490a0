"""`watch-docker serve`, the main job, as a user starts it: its own local Prefect server (in
its process), the deployments with their schedules, a scan run triggered through the API, a
clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import (
    SERVE_ERR_LOGS,
    SERVE_HOMES,
    _free_port,
    api_request,
    deployments,
    finished_run,
    run_artifact,
    run_deployment,
    said_since,
    start_serve,
    wait_for,
)

import testbed as tb

pytestmark = [pytest.mark.integration, pytest.mark.long]  # over a minute: handed out first


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


def test_serve_prints_its_own_hint_not_prefects_banner(served):
    api, _ = served
    folder = SERVE_HOMES[api].parents[1]  # start_serve's folder: out.log, err.log, state/
    said = (folder / "out.log").read_text() + (folder / "err.log").read_text()
    assert f"watch-docker: Prefect UI at {api.removesuffix('/api')} (log in with" in said
    assert (
        "watch-docker: serving scan (every 2h), update (on demand), auto-update (cron 0 4 * * *)"
        in said
    )
    config = folder / "config.yaml"
    assert f"    watch-docker scan --config {config}\n" in said
    assert f"    watch-docker approvals --config {config}\n" in said
    assert "prefect deployment run" not in said
    assert "Your deployments are being served" not in said


def test_blocks_are_registered_for_the_ui(served):
    api, _ = served
    for slug in ("docker-registry-credentials", "apprise-notifier", "docker-host"):
        assert api_request(api, "GET", f"/block_types/slug/{slug}").status_code == 200


def test_a_triggered_scan_runs_and_publishes_its_table(served):
    api, _ = served
    container = tb.current_container("served")
    try:
        run_id = run_deployment(api, "scan")
        state = finished_run(api, run_id)
        assert state["state_type"] == "COMPLETED", state
        assert state["name"].startswith("scan: ")
        table = run_artifact(api, run_id, "watchdocker-scan")
        assert container in str(table["data"]) and "up_to_date" in str(table["data"])
    finally:
        tb.docker_cli("rm", "-f", container, check=False)


def test_sigusr1_prints_the_threads_and_serve_goes_on(served):
    api, process = served
    err_log = SERVE_ERR_LOGS[process.pid]
    told = err_log.stat().st_size
    process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while "Current thread" not in (said := said_since(err_log, told)):
        assert time.monotonic() < deadline, said
        time.sleep(0.2)
    assert 'File "' in said and "watchdocker" in said
    assert process.poll() is None
    assert httpx.get(f"{api}/health", timeout=10).status_code in {200, 401}


def children_of(pid: int) -> list[str]:
    """The command lines of the processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == pid:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_the_prefect_server_runs_in_serves_own_process(served):
    """One interpreter for both (bench/idle.py: their memory): no server process, no guard;
    the record other commands adopt it by names serve as its keeper."""
    api, process = served
    home = SERVE_HOMES[api]
    assert json.loads((home / "server.json").read_text()) == {"url": api, "pid": process.pid}
    assert not [c for c in children_of(process.pid) if "server" in c], children_of(process.pid)
    assert httpx.get(f"{api}/health", timeout=5).status_code == 200


# A command that adopted serve's server (the code path of every CLI command), holding it until
# told, then asking the API once more.
ADOPTER = """
import os, sys, httpx
from watchdocker.config import load_settings
from watchdocker.deployments.prefect_env import auth_headers, prefect_api, prepare_environment
settings = load_settings(None)
prepare_environment(settings)
with prefect_api(settings, notice=False) as url:
    print("adopted", url, flush=True)
    sys.stdin.readline()
    answer = httpx.get(
        url + "/admin/version", headers=auth_headers(os.environ["PREFECT_API_AUTH_STRING"])
    )
    print("answer", answer.status_code, flush=True)
"""


def test_stops_cleanly_on_sigterm_once_a_command_using_its_server_is_done(served):
    api, process = served
    home = SERVE_HOMES[api]
    env = {k: v for k, v in os.environ.items() if k not in {"PREFECT_API_URL", "PREFECT_HOME"}}
    port = api.rsplit(":", 1)[1].split("/")[0]
    env.update(WATCH_STATE_DIR=str(home.parent), WATCH_PREFECT_ADDR=f"127.0.0.1:{port}")
    adopter = subprocess.Popen(
        [sys.executable, "-c", ADOPTER],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert adopter.stdout is not None and adopter.stdin is not None
        assert adopter.stdout.readline().split() == ["adopted", api], adopter.stderr
        err_log = SERVE_ERR_LOGS[process.pid]
        told = err_log.stat().st_size
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: "waiting up to" in said_since(err_log, told), timeout=30)
        assert process.poll() is None  # the server is kept for the command
        out, err = adopter.communicate("go\n", timeout=60)
        assert out.split() == ["answer", "200"], err
        assert process.wait(60) == 0
    finally:
        adopter.kill()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{api}/health", timeout=2)
    assert not (home / "server.json").exists()


def test_a_stop_while_serve_starts_ends_it_cleanly(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text(f"policy:\n  onlyLabels: ['{tb.label_filter()}']\n")
    # Printed once its Prefect server answers, before the deployments are registered.
    api, process = start_serve(tmp_path, config, _free_port(), until="watch-docker: Prefect UI")
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{api}/health", timeout=2)  # the server it started is stopped
    assert not (tmp_path / "state" / "api" / "address").exists()
    assert "Traceback" not in (tmp_path / "err.log").read_text()
