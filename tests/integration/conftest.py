"""The real engine and registries (testbed/up.sh) and a real Prefect server for this session."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

import testbed as tb
from watchdocker.config import PrefectConfig, Settings
from watchdocker.deployments.prefect_env import CREDENTIAL_FILE, auth_headers
from watchdocker.update.plan import UpdateResult

if TYPE_CHECKING:
    from playwright.sync_api import Browser

REPO_ROOT = Path(__file__).resolve().parents[2]

# Debian's Chromium (testbed/chromium.sh), as root, with no background traffic to the internet
# (there is none to reach); for the browser tests (test_ui, test_console*).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    """Chromium's path, installed first when it is not (testbed/chromium.sh)."""
    if not os.access(CHROMIUM, os.X_OK):
        subprocess.run(
            ["bash", str(REPO_ROOT / "testbed" / "chromium.sh")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    """Chromium driven by Playwright, one for each browser test module."""
    # Imported here: this file is loaded by every worker, and most run no browser test.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_FLAGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session", autouse=True)
def bed() -> Iterator[None]:
    """Brings the bed up when it is not (idempotent), and removes what this run labelled."""
    if tb.bed_problem():
        subprocess.run(
            ["bash", str(REPO_ROOT / "testbed" / "up.sh")], check=True, stdout=subprocess.DEVNULL
        )
    problem = tb.bed_problem()
    if problem:
        pytest.fail(f"test bed not up: {problem}")
    yield
    tb.cleanup(tb.RUN_ID)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """A Prefect server (SQLite) on the port tests/conftest.py chose, as `serve` would run it."""
    from watchdocker.deployments.prefect_env import (
        drain_prefect_workers,
        start_local_server,
        stop_process,
    )

    api = os.environ["PREFECT_API_URL"]
    port = int(api.rsplit(":", 1)[1].split("/")[0])
    settings = Settings(prefect=PrefectConfig(addr=f"127.0.0.1:{port}"))
    process = start_local_server(settings)
    yield api
    drain_prefect_workers()
    stop_process(process)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """A config.yaml limited to this run's containers (policy.onlyLabels), plus `extra`."""

    def write(extra: dict[str, Any] | None = None, **sections: Any) -> Path:
        data: dict[str, Any] = {
            "policy": {"onlyLabels": [tb.label_filter()]},
            "stateDir": str(tmp_path / "state"),
        }
        for key, value in {**(extra or {}), **sections}.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write


# --- `watch-docker serve` as a user starts it (test_serve.py, test_ui.py) ---------------------
# Tests import the helpers with `from conftest import deployments, wait_for`.


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVE_HOMES: dict[str, Path] = {}  # the API of each `serve` start_serve ran -> its Prefect home
SERVE_HTTP: dict[str, str] = {}  # the Prefect API of each `serve` start_serve ran -> its HTTP API
SERVE_ERR_LOGS: dict[int, Path] = {}  # the pid of each `serve` start_serve ran -> its stderr


def api_credential(api: str) -> str:
    """The credential `api` requires: that of the `serve` that runs it, else this session's
    (tests/conftest.py)."""
    if api in SERVE_HOMES:
        path = SERVE_HOMES[api] / CREDENTIAL_FILE
        return path.read_text().strip() if path.exists() else ""
    return os.environ["PREFECT_API_AUTH_STRING"]


def api_auth(api: str) -> dict[str, str]:
    """The Authorization header `api` requires."""
    return auth_headers(api_credential(api))


def api_request(api: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A REST call to the Prefect API `api` (e.g. `api_request(api, "GET", "/flow_runs/ID")`),
    with its credential."""
    kwargs.setdefault("timeout", 10)
    return httpx.request(method, f"{api}{path}", headers=api_auth(api), **kwargs)


SERVING = "watch-docker: serving "  # the last line serve prints as it starts


def said_since(log: Path, told: int) -> str:
    """What a process wrote to `log` after its first `told` bytes."""
    return log.read_bytes()[told:].decode(errors="replace")


def start_serve(
    folder: Path, config: Path, port: int, env: dict[str, str] | None = None, until: str = SERVING
) -> tuple[str, subprocess.Popen]:
    """`watch-docker serve` with nothing but a config file (no PREFECT_API_URL, no server;
    `env` adds to its environment), once it printed `until`: by default once it serves, its
    deployments registered and its API up."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"PREFECT_API_URL", "PREFECT_HOME"}},
        "WATCH_PREFECT_ADDR": f"127.0.0.1:{port}",
        "WATCH_SERVER_ADDR": f"127.0.0.1:{_free_port()}",
        "WATCH_STATE_DIR": str(folder / "state"),
        **(env or {}),
    }
    out_log = folder / "out.log"
    told = out_log.stat().st_size if out_log.exists() else 0
    process = subprocess.Popen(
        [sys.executable, "-m", "watchdocker.cli.app", "serve", "--config", str(config)],
        stdout=out_log.open("a"),
        stderr=(folder / "err.log").open("a"),
        env=env,
    )
    SERVE_ERR_LOGS[process.pid] = folder / "err.log"
    api = env.get("PREFECT_API_URL") or f"http://127.0.0.1:{port}/api"
    if "PREFECT_API_URL" not in env:
        SERVE_HOMES[api] = folder / "state" / "prefect"
    SERVE_HTTP[api] = f"http://{env['WATCH_SERVER_ADDR']}"
    # A hang's guard: on a loaded machine, under the shared tests' nice, serve took two minutes.
    deadline = time.monotonic() + 180
    while until not in said_since(out_log, told):
        assert process.poll() is None, (folder / "err.log").read_text()
        if time.monotonic() > deadline:
            raise AssertionError(f"serve did not print {until!r}; {_stacks_and_kill(process)}")
        time.sleep(0.5)
    return api, process


def _stacks(process: subprocess.Popen) -> str:
    """The stacks of the threads of a `serve` that hangs, as it prints them on `kill -USR1`."""
    err_log = SERVE_ERR_LOGS[process.pid]
    told = err_log.stat().st_size
    process.send_signal(signal.SIGUSR1)
    time.sleep(2)
    return said_since(err_log, told)


def _stacks_and_kill(process: subprocess.Popen) -> str:
    """`_stacks` of a `serve` that hangs, which is then killed."""
    stacks = _stacks(process)
    process.kill()
    process.wait()
    return f"its threads then:\n{stacks}"


def stop_serve(process: subprocess.Popen) -> int:
    """SIGTERM, then its exit code. A stop longer than a minute is told as a warning with the
    stacks of serve's threads then (`kill -USR1`), and waited for two more minutes; after those,
    serve is killed and its stacks are the failure."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        stacks = _stacks(process)
        try:
            code = process.wait(120)
        except subprocess.TimeoutExpired:
            stuck = _stacks_and_kill(process)
            raise AssertionError(f"serve did not stop in 3 minutes; {stuck}") from None
        warnings.warn(f"serve took over 60 s to stop; its threads then:\n{stacks}", stacklevel=2)
        return code


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen]]:
    tmp = tmp_path_factory.mktemp("serve")
    config = tmp / "config.yaml"
    config.write_text(
        "scan:\n  interval: 2h\n"
        "update:\n  enabled: true\n  autoUpdateCron: '0 4 * * *'\n"
        f"policy:\n  onlyLabels: ['{tb.label_filter()}']\n"
    )
    api, process = start_serve(tmp, config, _free_port())
    deadline = time.monotonic() + 60
    while len(deployments(api)) < 3:
        assert time.monotonic() < deadline, "serve did not register the auto-update deployment"
        time.sleep(0.5)
    yield api, process
    stop_serve(process)


def deployments(api: str) -> dict[str, dict]:
    try:
        answer = api_request(api, "POST", "/deployments/filter", json={}, timeout=5)
    except httpx.HTTPError:
        return {}
    return {d["name"]: d for d in answer.json()} if answer.status_code == 200 else {}


def wait_for(check: Callable[[], object], timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    return found


def deployment_runs(api: str, name: str) -> list[dict]:
    """Every flow run of the deployment `name`."""
    deployment_id = deployments(api)[name]["id"]
    answer = api_request(
        api,
        "POST",
        "/flow_runs/filter",
        json={"flow_runs": {"deployment_id": {"any_": [deployment_id]}}},
    )
    answer.raise_for_status()
    return answer.json()


def run_deployment(api: str, name: str, parameters: dict | None = None) -> str:
    """A flow run of the served deployment `name`, created through the REST API; its id."""
    deployment = deployments(api)[name]
    # As Prefect's own client does: the local server answers 503 while its SQLite is busy.
    for wait in (1, 2, 4, 8, 0):
        run = api_request(
            api,
            "POST",
            f"/deployments/{deployment['id']}/create_flow_run",
            json={"parameters": parameters or {}},
        )
        if run.status_code != httpx.codes.SERVICE_UNAVAILABLE or not wait:
            break
        time.sleep(wait)
    assert run.status_code == httpx.codes.CREATED, (run.status_code, run.text)
    return run.json()["id"]


def finished_run(api: str, run_id: str, timeout: float = 180) -> dict:
    """The flow run once it is completed, failed or crashed."""

    def finished() -> dict | None:
        run = api_request(api, "GET", f"/flow_runs/{run_id}", timeout=5).json()
        return run if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED") else None

    return wait_for(finished, timeout)  # type: ignore[return-value]


def run_artifact(api: str, run_id: str, key: str) -> dict:
    artifacts = api_request(
        api,
        "POST",
        "/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [run_id]}}},
        timeout=5,
    ).json()
    [artifact] = [a for a in artifacts if a["key"] == key]
    return artifact


@pytest.fixture
def remove_containers() -> Iterator[None]:
    """For tests that scan everything: this run's containers go when each test ends."""
    yield
    ids = tb.docker_cli("ps", "-aq", "--filter", f"label={tb.label_filter()}").split()
    if ids:
        tb.docker_cli("rm", "-f", "-v", *ids)


def watch_docker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The command line as a user runs it: a new process, this session's Prefect server."""
    return subprocess.run(
        [sys.executable, "-m", "watchdocker.cli.app", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


def start_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`watch_docker`, started: the caller waits for it (`communicate`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "watchdocker.cli.app", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def one_line(stderr: str) -> str:
    """The only line of `stderr`: what the CLI promises for an error, never a traceback."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def wrong_code(secret: str) -> str:
    """A TOTP code of none of the steps around now, so no window can take it."""
    import pyotp

    totp, now = pyotp.TOTP(secret), time.time()
    near = {totp.at(now, counter_offset=offset) for offset in range(-3, 4)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in near)


def answer(response: httpx.Response, status: int, code: int) -> dict:
    """The BaseRes body, once its HTTP status and code are the expected ones."""
    body = response.json()
    assert (response.status_code, body["code"]) == (status, code), body
    assert set(body) == {"code", "msg", "data"} and body["msg"]
    assert "Traceback" not in body["msg"]
    return body


@pytest.fixture
def update(prefect_server: str) -> Callable[..., dict[str, UpdateResult]]:
    from watchdocker.flows.update import update as update_flow

    def run(names: list[str], config: Path) -> dict[str, UpdateResult]:
        report = update_flow(containers=names, config_file=str(config))
        return {r.name: r for r in report.results}

    return run
