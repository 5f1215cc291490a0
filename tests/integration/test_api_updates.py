"""Updates through serve's HTTP API, and the CLI as its thin client, over real HTTP against
`watch-docker serve` on the real engine and registries: an update is a run of the `update`
deployment; `wait=false`; a run that waits for approval; unknown names; `watch-docker scan` and
`update` through the API when serve runs, and `scan` in-process (no Prefect) when none does."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import yaml
from conftest import (
    _free_port,
    api_request,
    deployment_runs,
    deployments,
    finished_run,
    start_serve,
    stop_serve,
    wrong_code,
)

import testbed as tb

pytestmark = [pytest.mark.integration, pytest.mark.long]  # minutes: handed out first

APPROVER = f"api-{tb.RUN_ID}"


class Serve:
    def __init__(self, folder: Path, config: Path, api: str, http: str) -> None:
        self.folder, self.config, self.prefect_api, self.http = folder, config, api, http
        self.credential = (folder / "state" / "api" / "local-credential").read_text().strip()

    def post(self, path: str, body: dict | None = None, **params: str) -> httpx.Response:
        return httpx.post(
            self.http + path,
            json=body,
            params=params,
            headers={"Authorization": f"Bearer {self.credential}"},
            timeout=300,
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """The command line on serve's host: its config and state directory."""
        return run_cli(*args, "--config", str(self.config), state_dir=self.folder / "state")


def run_cli(*args: str, state_dir: Path, code: str = "") -> subprocess.CompletedProcess:
    """`watch-docker ARGS` in a new process with no Prefect API of its own; it prints, on the
    last line of stderr, the Prefect modules it imported (`code` runs first)."""
    env = {k: v for k, v in os.environ.items() if k not in {"PREFECT_API_URL", "PREFECT_HOME"}}
    env["WATCH_STATE_DIR"] = str(state_dir)
    script = (
        "import sys\n"
        f"{code}\n"
        "from watchdocker.cli.app import app\n"
        "try:\n"
        f"    app({list(args)!r})\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def prefect_imported(done: subprocess.CompletedProcess) -> list[str]:
    return json.loads(done.stderr.strip().splitlines()[-1].replace("'", '"'))


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    folder = tmp_path_factory.mktemp("api-updates")
    config = folder / "config.yaml"
    config.write_text(
        "scan:\n  interval: 2h\n  cacheTTL: 0s\n"
        "update:\n  stableSeconds: 1s\n  healthTimeout: 20s\n"
        f"policy:\n  onlyLabels: ['{tb.label_filter()}']\n"
        f"twofa:\n  users:\n    {APPROVER}:\n      otpSecret: {pyotp.random_base32(32)}\n"
    )
    api, process = start_serve(folder, config, _free_port())
    try:
        yield Serve(folder, config, api, f"http://{_published(folder)}")
    finally:
        stop_serve(process)


def _published(folder: Path) -> str:
    published = (folder / "state" / "api" / "address").read_text().splitlines()[0]
    return published.removeprefix("http://")


def image_of(container: str) -> str:
    return tb.docker_cli("inspect", "--format", "{{.Image}}", container).strip()


def run_of(serve: Serve, run_id: str) -> dict:
    return api_request(serve.prefect_api, "GET", f"/flow_runs/{run_id}").json()


def asked_scans(serve: Serve) -> list[dict]:
    """The runs of serve's `scan` deployment that its schedule did not create."""
    return [r for r in deployment_runs(serve.prefect_api, "scan") if not r["auto_scheduled"]]


def test_an_update_through_the_api_is_a_run_of_the_update_deployment(serve: Serve):
    container, v1, v2 = tb.outdated_container("api-update")
    answer = serve.post(f"/api/containers/{container}/update")
    body = answer.json()
    assert answer.status_code == 200, body
    assert body["code"] == 0 and body["msg"] == "update: 1 updated", body
    [result] = body["data"]["results"]
    assert result["name"] == container and result["result"] == "updated", result
    assert result["new_image_id"] == v2
    assert image_of(container) == v2 != v1
    run_id = body["data"]["flowRunId"]
    assert body["data"]["url"].endswith(f"/runs/flow-run/{run_id}")
    run = run_of(serve, run_id)
    assert run["deployment_id"] == deployments(serve.prefect_api)["update"]["id"]
    assert run["state_type"] == "COMPLETED"
    assert run["parameters"]["containers"] == [container]


def test_a_rolled_back_update_answers_update_failed_with_its_results(serve: Serve):
    ref, v1, _ = tb.two_versions("api-sick", v2_healthcheck=["/bin/sh", "-c", "exit 1"])
    container = f"wdt-{tb.RUN_ID}-api-sick"
    tb.run_container(ref, *tb.STOPPABLE_SLEEP, name=container)
    answer = serve.post("/api/updates/run", {"names": [container]})
    body = answer.json()
    assert answer.status_code == 500 and body["code"] == 50002, body
    assert body["msg"] == "update: 1 rolled back"
    [result] = body["data"]["results"]
    assert result["result"] == "rolled_back" and "unhealthy" in result["reason"], result
    assert image_of(container) == v1
    # The CLI through serve: the same results, the same exit code as without serve.
    done = serve.cli("update", container, "--json")
    assert done.returncode == 1, done.stderr
    [result] = json.loads(done.stdout)["results"]
    assert result["result"] == "rolled_back", result


def test_wait_false_answers_with_the_run_at_once(serve: Serve):
    container, v1, _ = tb.outdated_container("api-nowait")
    started = time.monotonic()
    answer = serve.post("/api/updates/run", {"names": [container], "dryRun": True}, wait="false")
    assert time.monotonic() - started < 10
    body = answer.json()
    assert answer.status_code == 200 and body["code"] == 0, body
    assert set(body["data"]) == {"flowRunId", "url"}
    run = finished_run(serve.prefect_api, body["data"]["flowRunId"])
    assert run["state_type"] == "COMPLETED"
    assert run["parameters"]["dry_run"] is True
    assert run["name"] == "update: 1 would be updated"
    assert image_of(container) == v1  # a dry run changes nothing


def test_a_run_that_needs_approval_answers_at_once_with_the_run_to_approve(serve: Serve):
    ref, v1, _ = tb.two_versions("api-approval")
    container = f"wdt-{tb.RUN_ID}-api-approval"
    tb.run_container(
        ref, *tb.STOPPABLE_SLEEP, name=container, labels={"watchdocker.approval": "totp"}
    )
    answer = serve.post("/api/updates/run", {"names": [container]})
    body = answer.json()
    assert answer.status_code == 202, body
    assert body["code"] == 20201, body
    run_id = body["data"]["flowRunId"]
    assert f"watch-docker approve {run_id} --code CODE" in body["msg"]
    assert "watch-docker approvals" in body["data"]["approve"]
    state = run_of(serve, run_id)["state"]
    assert state["type"] == "PAUSED", state
    assert image_of(container) == v1  # nothing changes before an approver's code
    auth = {"Authorization": f"Bearer {serve.credential}"}
    waiting = httpx.get(f"{serve.http}/api/approvals", headers=auth).json()["data"]
    [listed] = [w for w in waiting if w["flow_run_id"] == run_id]
    assert listed["containers"] == [container] and listed["url"].endswith(run_id)
    # An answer to a run that waits for none; then a rejection, which needs the code too.
    stranger = serve.post(f"/api/updates/{uuid.uuid4()}/approve", {"code": "123456"})
    assert (stranger.status_code, stranger.json()["code"]) == (409, 40904)
    secret = yaml.safe_load(serve.config.read_text())["twofa"]["users"][APPROVER]["otpSecret"]
    body = {"approver": APPROVER, "code": pyotp.TOTP(secret).now(), "reject": True}
    rejected = serve.post(f"/api/updates/{run_id}/approve", body)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["data"]["outcome"] == "rejected"
    assert body["code"] not in rejected.text and secret not in rejected.text
    assert image_of(container) == v1


class Terminal:
    """A CLI process whose stdin is a pseudo-terminal: answers are typed after their prompt
    shows (getpass flushes what was typed before it asks)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        leader, follower = pty.openpty()
        self.leader = leader
        self.process = subprocess.Popen(
            [sys.executable, "-m", "watchdocker.cli.app", *args],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # no controlling terminal: getpass asks on stdin/stderr
        )
        os.close(follower)
        self.shown = {"out": b"", "err": b""}
        self.readers = [
            threading.Thread(target=self._read, args=(stream, key), daemon=True)
            for stream, key in ((self.process.stdout, "out"), (self.process.stderr, "err"))
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, stream: Any, key: str) -> None:
        for chunk in iter(lambda: stream.read1(4096), b""):
            self.shown[key] += chunk

    def type_after(self, prompt: str, line: str, times: int = 1, timeout: float = 180) -> None:
        """Types `line` once `prompt` has shown `times` times."""
        deadline = time.monotonic() + timeout
        while (self.shown["out"] + self.shown["err"]).count(prompt.encode()) < times:
            assert self.process.poll() is None, self.shown
            assert time.monotonic() < deadline, f"no {prompt!r} prompt: {self.shown}"
            time.sleep(0.1)
        os.write(self.leader, f"{line}\n".encode())

    def wait(self) -> tuple[int, str, str]:
        try:
            code = self.process.wait(300)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the CLI did not end: {self.shown}") from None
        for reader in self.readers:
            reader.join(10)
        os.close(self.leader)
        return code, self.shown["out"].decode(), self.shown["err"].decode()


def test_update_in_a_terminal_asks_for_the_code_and_follows_the_run_through_serve(serve: Serve):
    ref, v1, v2 = tb.two_versions("api-prompt")
    container = f"wdt-{tb.RUN_ID}-api-prompt"
    tb.run_container(
        ref, *tb.STOPPABLE_SLEEP, name=container, labels={"watchdocker.approval": "totp"}
    )
    secret = yaml.safe_load(serve.config.read_text())["twofa"]["users"][APPROVER]["otpSecret"]
    # Serve's Prefect server is not where this CLI's settings would look: only serve's API is.
    env = {k: v for k, v in os.environ.items() if k not in {"PREFECT_API_URL", "PREFECT_HOME"}}
    env.update(WATCH_STATE_DIR=str(serve.folder / "state"), WATCH_PREFECT_ADDR="127.0.0.1:1")
    terminal = Terminal(["update", container, "--config", str(serve.config)], env)
    terminal.type_after("approver [default]: ", APPROVER)
    # At a line's start: the verdict line "wrong code: ..." holds "code: " too.
    terminal.type_after("\ncode: ", wrong_code(secret))
    terminal.type_after("approve or reject? [A/r]: ", "a")
    # A wrong code is said, and the run asks again (approval.maxAttempts).
    terminal.type_after("approver [default]: ", APPROVER, times=2)
    terminal.type_after("\ncode: ", pyotp.TOTP(secret).now(), times=2)
    terminal.type_after("approve or reject? [A/r]: ", "a", times=2)
    code, out, err = terminal.wait()
    assert code == 0, err
    assert err.count("approval needed") == 2
    assert "updated" in out
    assert image_of(container) == v2 != v1
    runs = deployment_runs(serve.prefect_api, "update")
    [run] = [r for r in runs if r["parameters"]["containers"] == [container]]
    assert run["state_type"] == "COMPLETED"


def test_an_update_run_is_read_back_by_its_id(serve: Serve):
    container, v1, v2 = tb.outdated_container("api-readback")
    started = serve.post("/api/updates/run", {"names": [container]}, wait="false").json()
    run_id = started["data"]["flowRunId"]
    answer = httpx.get(
        f"{serve.http}/api/updates/{run_id}",
        headers={"Authorization": f"Bearer {serve.credential}"},
        timeout=300,
    )
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["data"]["results"]
    assert result["result"] == "updated" and image_of(container) == v2 != v1
    scans = deployment_runs(serve.prefect_api, "scan")
    other = httpx.get(
        f"{serve.http}/api/updates/{scans[0]['id']}",
        headers={"Authorization": f"Bearer {serve.credential}"},
    )
    assert (other.status_code, other.json()["code"]) == (404, 40403)


def test_unknown_names_are_refused_at_once(serve: Serve):
    before = len(deployment_runs(serve.prefect_api, "update"))
    missing = f"wdt-{tb.RUN_ID}-no-such-container"
    answer = serve.post("/api/updates/run", {"names": [missing]})
    assert answer.status_code == 404
    assert answer.json()["code"] == 40401
    assert repr(missing) in answer.json()["msg"]
    answer = serve.post(f"/api/containers/{missing}/update")
    assert answer.status_code == 404 and answer.json()["code"] == 40401
    answer = serve.post("/api/updates/run", {"names": [], "all": False})
    assert answer.status_code == 400 and answer.json()["code"] == 40000
    assert len(deployment_runs(serve.prefect_api, "update")) == before  # no run started


def test_the_cli_goes_through_serve_when_it_runs(serve: Serve):
    container, v1, v2 = tb.outdated_container("api-cli")
    tb.current_container("api-cli-other")  # a second image at least, for the lookups' count
    scans = {run["id"] for run in asked_scans(serve)}
    done = serve.cli("scan", "--json")
    assert done.returncode == 0, done.stderr
    [found] = [c for c in json.loads(done.stdout)["containers"] if c["name"] == container]
    assert found["status"] == "update_available" and found["running"] is True
    assert "not recorded" not in done.stderr
    assert prefect_imported(done) == []
    # The scan ran inside serve, as a run of its `scan` deployment, the lookups of its several
    # images in one task run (three in all: discovery, lookups, telling of new images).
    [scan_run] = [run for run in asked_scans(serve) if run["id"] not in scans]
    assert scan_run["state_type"] == "COMPLETED"
    task_runs = api_request(
        serve.prefect_api,
        "POST",
        "/task_runs/count",
        json={"flow_runs": {"id": {"any_": [scan_run["id"]]}}},
    ).json()
    assert task_runs == 3

    done = serve.cli("update", container, "--json")
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)["results"]
    assert result["result"] == "updated" and image_of(container) == v2 != v1
    assert prefect_imported(done) == []
    runs = deployment_runs(serve.prefect_api, "update")
    assert any(run["parameters"]["containers"] == [container] for run in runs)

    missing = f"wdt-{tb.RUN_ID}-no-such-one"
    done = serve.cli("update", missing)
    assert done.returncode == 1
    assert f"no container named {missing!r}" in done.stderr.splitlines()[0]


def test_scan_without_serve_runs_in_this_process_and_starts_no_server(tmp_path: Path):
    container = tb.current_container("api-inproc")
    config = tmp_path / "config.yaml"
    config.write_text(f"policy:\n  onlyLabels: ['{tb.label_filter()}']\n")
    state = tmp_path / "state"
    done = run_cli("scan", "--json", "--config", str(config), state_dir=state)
    assert done.returncode == 0, done.stderr
    [found] = [c for c in json.loads(done.stdout)["containers"] if c["name"] == container]
    assert found["status"] == "up_to_date"
    assert done.stderr.splitlines()[0] == (
        "watch-docker: no serve runs: scanned in this process, not recorded in Prefect"
    )
    assert prefect_imported(done) == []
    assert not (state / "prefect").exists()  # no Prefect home: no server was started


def test_a_cli_with_other_settings_than_serves_runs_in_its_own_process(serve: Serve):
    """A run in serve would use serve's settings, not this command's."""
    container = tb.current_container("api-other-config")
    other = serve.folder / "other-config.yaml"
    other.write_text(serve.config.read_text() + "registry:\n  retries: 0\n")
    asked = len(asked_scans(serve))
    done = run_cli("scan", "--json", "--config", str(other), state_dir=serve.folder / "state")
    assert done.returncode == 0, done.stderr
    assert [
        c["status"] for c in json.loads(done.stdout)["containers"] if c["name"] == container
    ] == ["up_to_date"]
    assert done.stderr.splitlines()[0] == (
        f"watch-docker: serve at http://{_published(serve.folder)} runs with other settings than "
        "this command's (a config file or WATCH_* variables differ): scanned in this process, "
        "not recorded in Prefect"
    )
    assert len(asked_scans(serve)) == asked  # no run of serve's scan deployment
    # The same settings: through serve, as a run of its deployment.
    done = serve.cli("scan", "--json")
    assert done.returncode == 0 and "scanned in this process" not in done.stderr, done.stderr
    assert len(asked_scans(serve)) == asked + 1
