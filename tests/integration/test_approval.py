"""Approval gates on the real flow and engine: the run pauses, and is answered as a person would
(the same resume the UI's form makes, and `watch-docker approve`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest

import testbed as tb
from watchdocker.update_plan import UpdateReport

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("remove_containers")]

SECRET = pyotp.random_base32(32)


def outdated(suffix: str) -> tuple[str, str]:
    container, v1, _ = tb.outdated_container(f"appr-{suffix}")
    return container, v1


class RunningUpdate:
    """The update flow in a thread of this process, as `watch-docker update` runs it."""

    def __init__(self, container: str, config: Path) -> None:
        from watchdocker.flows.update import update

        self.report: UpdateReport | None = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.report = update(containers=[container], config_file=str(config))
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def result(self, timeout: float = 120) -> UpdateReport:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the update run did not finish"
        assert self.error is None, self.error
        assert self.report is not None
        return self.report


def waiting_run(container: str, timeout: float = 90) -> str:
    from watchdocker.cli.approvals import pending_approvals

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pending in pending_approvals():
            if container in pending.containers:
                return pending.flow_run_id
        time.sleep(0.5)
    raise AssertionError(f"no run waits for approval of {container}")


@pytest.fixture
def approval_config(write_config: Callable[..., Path]) -> Callable[..., Path]:
    def make(approver: str, **approval: object) -> Path:
        return write_config(
            scan={"cacheTTL": "0s"},
            update={"approval": "totp", "stableSeconds": "1s"},
            approval={"maxAttempts": 3, "timeout": "5m", **approval},
            twofa={"users": {approver: {"otpSecret": SECRET}}},
        )

    return make


def image_of(container: str) -> str:
    return tb.docker_cli("inspect", "--format", "{{.Image}}", container).strip()


def test_a_valid_code_approves_and_a_replayed_one_is_refused(prefect_server, approval_config):
    from watchdocker.cli.approvals import answer_approval

    approver = f"alice-{tb.RUN_ID}"
    config = approval_config(approver)
    container, v1 = outdated("valid")
    run = RunningUpdate(container, config)
    run_id = waiting_run(container)
    code = pyotp.TOTP(SECRET).now()
    verdict = answer_approval(run_id, approver, code, reject=False)
    assert verdict["outcome"] == "approved" and approver in verdict["reason"]
    [result] = run.result().results
    assert result.result == "updated" and image_of(container) != v1

    # The same code on the next run: refused, counted as a wrong attempt.
    container2, v1b = outdated("replay")
    second = RunningUpdate(container2, config)
    run_id = waiting_run(container2)
    verdict = answer_approval(run_id, approver, code, reject=False)
    assert verdict["outcome"] == "wrong_code" and "already used" in verdict["reason"]
    answer_approval(run_id, approver, "", reject=True)
    assert second.result().results[0].result == "skipped"
    assert image_of(container2) == v1b


def test_wrong_codes_are_counted_then_the_run_is_rejected(prefect_server, approval_config):
    approver = f"bob-{tb.RUN_ID}"
    config = approval_config(approver, maxAttempts=2)
    container, v1 = outdated("wrong")
    run = RunningUpdate(container, config)
    for attempt in (1, 2):
        run_id = waiting_run(container)
        done = subprocess.run(
            [sys.executable, "-m", "watchdocker.cli.app", "approve", run_id, "--code", "000000",
             "--approver", approver, "--config", str(config)],
            capture_output=True, text=True, timeout=120, check=False, env=dict(os.environ),
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert "wrong code" in done.stdout, (attempt, done.stdout)
    [result] = run.result().results
    assert result.result == "skipped" and "2 wrong codes" in result.reason
    assert image_of(container) == v1


def test_a_reject_changes_nothing(prefect_server, approval_config):
    from watchdocker.cli.approvals import answer_approval

    approver = f"carol-{tb.RUN_ID}"
    container, v1 = outdated("reject")
    run = RunningUpdate(container, approval_config(approver))
    verdict = answer_approval(waiting_run(container), approver, "", reject=True)
    assert verdict["outcome"] == "rejected"
    [result] = run.result().results
    assert result.result == "skipped" and f"rejected by {approver}" in result.reason
    assert image_of(container) == v1


def test_no_answer_times_out_and_changes_nothing(prefect_server, approval_config):
    container, v1 = outdated("timeout")
    run = RunningUpdate(container, approval_config(f"dave-{tb.RUN_ID}", timeout="4s"))
    [result] = run.result().results
    assert result.result == "skipped" and "no answer within 4s" in result.reason
    assert image_of(container) == v1


def test_the_form_offered_to_the_ui_and_the_pending_list(prefect_server, approval_config):
    from prefect.client.orchestration import get_client

    from watchdocker.cli.approvals import answer_approval

    approver = f"erin-{tb.RUN_ID}"
    config = approval_config(approver)
    container, _ = outdated("form")
    run = RunningUpdate(container, config)
    run_id = waiting_run(container)
    command = ["approvals", "--json", "--config", str(config)]
    listed = subprocess.run(
        [sys.executable, "-m", "watchdocker.cli.app", *command],
        capture_output=True, text=True, timeout=120, check=False, env=dict(os.environ),
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    [mine] = [a for a in json.loads(listed.stdout)["approvals"] if a["flow_run_id"] == run_id]
    assert mine["containers"] == [container]
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
        keyset = state.state_details.run_input_keyset
        schema = json.loads(client.read_flow_run_input(run_id, keyset["schema"]))
        description = client.read_flow_run_input(run_id, keyset["description"])
    assert {"approver", "code", "approve", "containers"} <= set(schema["properties"])
    assert container in description and SECRET not in description
    answer_approval(run_id, approver, "", reject=True)
    run.result()
