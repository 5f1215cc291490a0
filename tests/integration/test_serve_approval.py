"""An update started from the served deployment waits for approval suspended: `serve` is
restarted meanwhile, and the run is still answerable afterwards — from another terminal, a wrong
code first (counted once against the approver, however often the run starts again)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyotp
import pytest
from conftest import (
    _free_port,
    api_request,
    finished_run,
    run_deployment,
    start_serve,
    stop_serve,
    wait_for,
    wrong_code,
)

import testbed as tb
from watchdocker.blocks.totp import lockout_variable_name

pytestmark = [pytest.mark.integration, pytest.mark.long]  # minutes: handed out first


def test_a_waiting_approval_survives_a_restart_of_serve(tmp_path: Path):
    secret, approver = pyotp.random_base32(32), f"frank-{tb.RUN_ID}"
    config = tmp_path / "config.yaml"
    config.write_text(
        "scan:\n  cacheTTL: 0s\n"
        "update:\n  stableSeconds: 1s\n"
        f"policy:\n  onlyLabels: ['{tb.label_filter()}']\n"
        f"twofa:\n  users:\n    {approver}:\n      otpSecret: {secret}\n"
    )
    container, v1, v2 = tb.outdated_container("served-approval")
    port = _free_port()
    api, serve = start_serve(tmp_path, config, port)
    try:
        parameters = {"containers": [container], "require_approval": True}
        run_id = run_deployment(api, "update", parameters)

        def suspended() -> bool:
            state = api_request(api, "GET", f"/flow_runs/{run_id}").json()["state"]
            return state["type"] == "PAUSED" and state["name"] == "Suspended"

        wait_for(suspended, timeout=180)
        assert stop_serve(serve) == 0  # the run holds no process: nothing to lose
        api, serve = start_serve(tmp_path, config, port)
        assert suspended()

        env = {k: v for k, v in os.environ.items() if k not in {"PREFECT_API_URL", "PREFECT_HOME"}}
        env.update(WATCH_PREFECT_ADDR=f"127.0.0.1:{port}", WATCH_STATE_DIR=str(tmp_path / "state"))

        def approve(code: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, "-m", "watchdocker.cli.app", "approve", run_id, "--code", code,
                 "--approver", approver, "--config", str(config)],
                capture_output=True, text=True, timeout=300, check=False, env=env,
            )  # fmt: skip

        answered = approve(wrong_code(secret))
        assert answered.returncode == 1, answered.stdout + answered.stderr
        assert answered.stdout.strip().endswith("2 attempts left"), answered.stdout
        wait_for(suspended, timeout=120)  # started again from the top, waiting for attempt 2
        answered = approve(pyotp.TOTP(secret).now())
        assert answered.returncode == 0, answered.stdout + answered.stderr
        assert answered.stdout.startswith("approved"), answered.stdout

        run = finished_run(api, run_id)
        assert run["state_type"] == "COMPLETED", run["state"]
        image = tb.docker_cli("inspect", "--format", "{{.Image}}", container).strip()
        assert image == v2 != v1
        # Each start from the top judged the wrong code again; it counts once for the lockout.
        name = lockout_variable_name(approver)
        ledger = api_request(api, "GET", f"/variables/name/{name}").json()["value"]
        assert len(ledger["wrong_codes_at"]) == 1 and ledger["locked_until"] is None, ledger
    finally:
        stop_serve(serve)
        tb.docker_cli("rm", "-f", container, check=False)
