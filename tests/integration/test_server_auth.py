"""The embedded Prefect server: protected by Prefect's server auth with the state directory's
credential, private files, and owned by the commands of that state directory only — one
server for commands that run at once, gone with them even when they are SIGKILLed, and never a
stranger's adopted. Everything through real `watch-docker` processes and real servers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import SERVE_HOMES, _free_port, api_request, deployments, wait_for

import testbed as tb
from watchdocker.deployments.prefect_env import CREDENTIAL_FILE, auth_headers

pytestmark = [pytest.mark.integration, pytest.mark.long]  # over a minute: handed out first

SECRETS_FILTER = "/block_documents/filter"


def one_off(state: Path, port: int, *args: str) -> subprocess.Popen:
    """`watch-docker ARGS` as a user runs it with nothing running: no PREFECT_API_URL, the
    state directory `state`, the local server on `port`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PREFECT_API_URL", "PREFECT_HOME", "PREFECT_API_AUTH_STRING"}
    }
    env.update(WATCH_PREFECT_ADDR=f"127.0.0.1:{port}", WATCH_STATE_DIR=str(state))
    return subprocess.Popen(
        [sys.executable, "-m", "watchdocker.cli.app", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(process: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def serve_home(served: tuple[str, subprocess.Popen]) -> Path:
    api, _ = served
    return SERVE_HOMES[api]


# --- what the served API lets through ----------------------------------------------------


def test_without_the_credential_the_api_refuses_block_secrets(served):
    api, _ = served
    body = {"include_secrets": True}
    anonymous = httpx.post(f"{api}{SECRETS_FILTER}", json=body, timeout=10)
    assert anonymous.status_code == 401, anonymous.text
    wrong = httpx.post(
        f"{api}{SECRETS_FILTER}", json=body, headers=auth_headers("watchdocker:guess"), timeout=10
    )
    assert wrong.status_code == 401, wrong.text
    assert api_request(api, "POST", SECRETS_FILTER, json=body).status_code == 200
    # Probes stay open: nothing in them.
    assert httpx.get(f"{api}/health", timeout=5).status_code == 200


def test_the_ui_asks_for_the_credential_and_serve_says_where_it_is(served, serve_home: Path):
    api, _ = served
    ui_settings = httpx.get(f"{api.removesuffix('/api')}/ui-settings", timeout=5).json()
    assert ui_settings["auth"] == "BASIC"
    credential = (serve_home / CREDENTIAL_FILE).read_text().strip()
    folder = serve_home.parent.parent  # start_serve's folder: out.log, err.log, state/
    said = (folder / "out.log").read_text() + (folder / "err.log").read_text()
    assert f"log in with the contents of {serve_home / CREDENTIAL_FILE}" in said
    assert credential not in said
    token = credential.split(":", 1)[1]
    assert token not in said and len(token) >= 40


def test_state_files_are_private(served, serve_home: Path):
    state = serve_home.parent
    assert (state.stat().st_mode & 0o777) == 0o700
    assert (serve_home.stat().st_mode & 0o777) == 0o700
    database = sorted(serve_home.glob("prefect.db*"))
    assert serve_home / "prefect.db" in database
    for path in [serve_home / CREDENTIAL_FILE, *database, serve_home / "server.log"]:
        assert (path.stat().st_mode & 0o777) == 0o600, path


def test_a_one_off_command_adopts_serves_server_with_its_credential(served, serve_home: Path):
    """A command that needs the Prefect API uses serve's server with the credential (no server
    of its own); a scan goes through serve's HTTP API and runs there, as a run of its `scan`
    deployment."""
    api, _ = served
    port = int(api.rsplit(":", 1)[1].split("/")[0])
    container = tb.current_container("adopt")
    try:
        code, out, err = finish(one_off(serve_home.parent, port, "approvals", "--json"))
        assert code == 0, err
        assert "starting a local Prefect server" not in err, err
        assert json.loads(out)["approvals"] == []
        # With serve's config: a command with other settings runs in its own process.
        config = str(serve_home.parent.parent / "config.yaml")
        code, out, err = finish(
            one_off(serve_home.parent, port, "scan", "--json", "--config", config)
        )
        assert code == 0, err
        assert "starting a local Prefect server" not in err, err
        [row] = [c for c in json.loads(out)["containers"] if c["name"] == container]
        assert row["status"] == "up_to_date", row
        scans = deployments(api)["scan"]["id"]
        runs = api_request(api, "POST", "/flow_runs/filter", json={"limit": 200}).json()
        asked = [r for r in runs if r["deployment_id"] == scans and not r["auto_scheduled"]]
        assert asked, [r["name"] for r in runs]
    finally:
        tb.docker_cli("rm", "-f", container, check=False)


# --- the temporary server of a one-off command -------------------------------------------


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def server_pids(port: int) -> list[int]:
    """The processes of a Prefect server started on `port`."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if entry.name.isdigit() and "server" in argv and "--port" in argv and str(port) in argv:
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def port() -> Iterator[int]:
    chosen = _free_port()
    yield chosen
    for pid in server_pids(chosen):  # nothing this test started outlives it
        os.kill(pid, signal.SIGKILL)


def test_a_sigkilled_command_takes_its_server_with_it(state: Path, port: int, write_config):
    # A scan with no serve runs in its own process, without a server: an update starts one.
    config = str(write_config())
    command = one_off(state, port, "update", "--all", "--dry-run", "--json", "--config", config)
    server_file = state / "prefect" / "server.json"
    wait_for(lambda: server_file.exists() or command.poll() is not None, timeout=180)
    assert command.poll() is None, command.communicate()
    assert server_pids(port) and answers(port)
    command.send_signal(signal.SIGKILL)
    assert command.wait(10) == -signal.SIGKILL
    started = time.monotonic()
    wait_for(lambda: not server_pids(port) and not answers(port), timeout=30)
    print(f"server gone {time.monotonic() - started:.1f} s after the SIGKILL")


def test_two_commands_at_once_share_one_server(state: Path, port: int, write_config):
    config = str(write_config())
    container, _, _ = tb.outdated_container("twice")
    try:
        args = ("update", "--all", "--dry-run", "--json", "--config", config)
        first, second = (one_off(state, port, *args) for _ in "12")
        outcomes = [finish(first), finish(second)]
        for code, out, err in outcomes:
            assert code == 0, err
            assert "Traceback" not in err, err
            results = {r["name"]: r["result"] for r in json.loads(out)["results"]}
            assert results[container] == "would_update", results
        notices = [err for _, _, err in outcomes if "starting a local Prefect server" in err]
        assert len(notices) == 1, [err for _, _, err in outcomes]
        # The last one done, its guard ends the server.
        wait_for(lambda: not server_pids(port) and not answers(port), timeout=30)
    finally:
        tb.docker_cli("rm", "-f", container, check=False)


def test_a_server_whose_home_is_gone_is_not_adopted(state: Path, port: int, tmp_path: Path):
    """A Prefect server left from a state directory since deleted still answers /api/health:
    the command says what holds the port, and stops there."""
    stranger_home = tmp_path / "gone"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(stranger_home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    stranger = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--port", str(port), "--no-services"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        api = f"http://127.0.0.1:{port}/api"
        wait_for(lambda: stranger.poll() is not None or healthy(api), timeout=180)
        assert stranger.poll() is None, "the stranger server did not start"
        subprocess.run(["rm", "-rf", str(stranger_home)], check=True)
        code, _, err = finish(one_off(state, port, "approvals", "--json"))
        assert code == 1
        [line] = err.strip().splitlines()
        assert f"not this state directory's ({state / 'prefect'}) answers at {api}" in line
        assert "WATCH_PREFECT_ADDR" in line
    finally:
        os.killpg(stranger.pid, signal.SIGKILL)
        stranger.wait()


def test_something_else_on_the_port_is_named(state: Path, port: int):
    with socket.create_server(("127.0.0.1", port)):
        code, _, err = finish(one_off(state, port, "approvals"))
    assert code == 1
    [line] = err.strip().splitlines()
    assert (
        line.startswith("watch-docker: something else listens on 127.0.0.1:") and str(port) in line
    )


# --- a configured API that cannot be used: one line ---------------------------------------


@pytest.mark.parametrize("command", [["scan", "--json"], ["approvals"]])
def test_an_unreachable_api_is_one_line(command: list[str]):
    api = "http://127.0.0.1:1/api"
    done = subprocess.run(
        [sys.executable, "-m", "watchdocker.cli.app", *command],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PREFECT_API_URL": api},
    )  # fmt: skip
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert line.startswith(f"watch-docker: cannot reach the Prefect API at {api}"), line


def test_a_wrong_credential_is_one_line(prefect_server: str):
    done = subprocess.run(
        [sys.executable, "-m", "watchdocker.cli.app", "approvals"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PREFECT_API_AUTH_STRING": "watchdocker:wrong"},
    )  # fmt: skip
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert f"the Prefect API at {prefect_server} refused the credential" in line
    assert "watchdocker:wrong" not in done.stderr
