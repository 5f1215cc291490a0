"""Approval gates on the real flow and engine: the run pauses, and is answered as a person would
(the same resume the UI's form makes, and `watch-docker approve`)."""

from __future__ import annotations

import calendar
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
from conftest import one_line, watch_docker, wrong_code

import testbed as tb
from watchdocker.update.plan import UpdateReport

pytestmark = [
    pytest.mark.integration,
    pytest.mark.long,  # minutes: handed out first
    pytest.mark.usefixtures("remove_containers"),
]

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
    from watchdocker.deployments.approvals import pending_approvals

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pending in pending_approvals():
            if container in pending.containers:
                return pending.flow_run_id
        time.sleep(0.5)
    raise AssertionError(f"no run waits for approval of {container}")


@pytest.fixture
def approval_config(write_config: Callable[..., Path]) -> Callable[..., Path]:
    def make(
        approver: str, notify: dict | None = None, gate: str = "totp", **approval: object
    ) -> Path:
        return write_config(
            scan={"cacheTTL": "0s"},
            update={"approval": gate, "stableSeconds": "1s"},
            approval={"maxAttempts": 3, "timeout": "5m", **approval},
            twofa={"users": {approver: {"otpSecret": SECRET}}},
            **({"notify": notify} if notify else {}),
        )

    return make


def image_of(container: str) -> str:
    return tb.docker_cli("inspect", "--format", "{{.Image}}", container).strip()


def next_code() -> str:
    """The code of the next time step: accepted now (one step of drift is) and newer than the
    code of this one, so an approver who used that can still answer again."""
    return pyotp.TOTP(SECRET).at(time.time() + 30)


def approve(run_id: str, approver: str, code: str, config: Path, *extra: str):
    """`watch-docker approve` as a person runs it."""
    args = ["approve", run_id, "--approver", approver, "--config", str(config), *extra]
    return watch_docker(*args, *(["--code", code] if code else []))


def test_a_valid_code_approves_and_a_replayed_one_is_refused(prefect_server, approval_config):
    from watchdocker.deployments.approvals import answer_approval

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
    answer_approval(run_id, approver, next_code(), reject=True)
    assert second.result().results[0].result == "skipped"
    assert image_of(container2) == v1b


def test_wrong_codes_are_counted_then_the_run_is_rejected(prefect_server, approval_config):
    approver = f"bob-{tb.RUN_ID}"
    config = approval_config(approver, maxAttempts=2)
    container, v1 = outdated("wrong")
    run = RunningUpdate(container, config)
    said = []
    for _ in (1, 2):
        done = approve(waiting_run(container), approver, wrong_code(SECRET), config)
        assert done.returncode == 1, done.stderr
        said.append(done.stdout.strip())
    assert said[0] == f"wrong code: wrong code for {approver}; 1 attempt left"
    # The answer to the last allowed wrong code says what became of the run.
    assert said[1] == (
        f"wrong code: wrong code for {approver}; "
        "that was the last attempt: the update run is rejected"
    )
    [result] = run.result().results
    assert result.result == "skipped" and "2 wrong codes" in result.reason
    assert image_of(container) == v1


def test_a_reject_changes_nothing(prefect_server, approval_config):
    approver = f"carol-{tb.RUN_ID}"
    container, v1 = outdated("reject")
    config = approval_config(approver)
    run = RunningUpdate(container, config)
    done = approve(waiting_run(container), approver, pyotp.TOTP(SECRET).now(), config, "--reject")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"rejected: rejected by {approver}"
    [result] = run.result().results
    assert result.result == "skipped" and f"rejected by {approver}" in result.reason
    assert image_of(container) == v1


def test_a_container_labelled_for_approval_waits_without_the_setting(
    prefect_server, approval_config
):
    # The label is the one the scan's discovery read: the update does not inspect again.
    approver = f"ivan-{tb.RUN_ID}"  # an approver of its own: codes are used once
    config = approval_config(approver, gate="none")
    plain, _ = outdated("unlabelled")
    [result] = RunningUpdate(plain, config).result().results
    assert result.result == "updated"  # update.approval none: nobody is asked
    labelled, v1, _ = tb.outdated_container("appr-labelled", "--label", "watchdocker.approval=totp")
    run = RunningUpdate(labelled, config)
    done = approve(waiting_run(labelled), approver, next_code(), config, "--reject")
    assert done.returncode == 0, done.stderr
    [result] = run.result().results
    assert result.result == "skipped" and f"rejected by {approver}" in result.reason
    assert image_of(labelled) == v1


def test_a_reject_needs_an_approver_and_their_valid_code(prefect_server, approval_config):
    from watchdocker.deployments.approvals import answer_approval

    approver = f"hank-{tb.RUN_ID}"
    config = approval_config(approver)
    container, v1 = outdated("reject-code")
    run = RunningUpdate(container, config)
    run_id = waiting_run(container)
    done = approve(run_id, approver, "", config, "--reject")
    assert done.returncode == 2
    assert one_line(done.stderr) == (
        "watch-docker: give --code CODE: approving and rejecting both need your code"
    )
    # What the UI's form can send: a wrong code, or a stranger's name. Neither rejects.
    verdict = answer_approval(run_id, approver, wrong_code(SECRET), reject=True)
    assert (verdict["outcome"], verdict["reason"]) == (
        "wrong_code",
        f"wrong code for {approver}; 2 attempts left",
    )
    stranger = f"mallory-{tb.RUN_ID}"
    verdict = answer_approval(waiting_run(container), stranger, "", reject=True)
    assert verdict["outcome"] == "wrong_code"
    assert verdict["reason"].startswith(f"{stranger!r} is not an approver")
    # Still waiting; the approver's own code rejects.
    verdict = answer_approval(waiting_run(container), approver, pyotp.TOTP(SECRET).now(), True)
    assert (verdict["outcome"], verdict["reason"]) == ("rejected", f"rejected by {approver}")
    [result] = run.result().results
    assert result.result == "skipped" and f"rejected by {approver}" in result.reason
    assert image_of(container) == v1


def test_wrong_codes_lock_the_approver_across_runs(prefect_server, approval_config, receiver):
    from prefect.client.orchestration import get_client

    from watchdocker.blocks.totp import lockout_variable_name

    approver = f"gina-{tb.RUN_ID}"
    hook = f"json://127.0.0.1:{receiver.port}/hook"
    config = approval_config(
        approver, maxAttempts=2, lockoutAttempts=3, lockoutPeriod="10m", notify={"urls": [hook]}
    )
    # A second run buys no more guesses: 2 wrong codes in the first, the third locks.
    first, v1 = outdated("lock-a")
    run = RunningUpdate(first, config)
    for _ in (1, 2):
        assert approve(waiting_run(first), approver, wrong_code(SECRET), config).returncode == 1
    assert run.result().results[0].result == "skipped"
    second, v1b = outdated("lock-b")
    run = RunningUpdate(second, config)
    started = time.time()
    done = approve(waiting_run(second), approver, wrong_code(SECRET), config)
    assert done.returncode == 1 and "1 attempt left" in done.stdout, done.stdout
    # Even the right code is refused now, with the time the lock ends.
    done = approve(waiting_run(second), approver, pyotp.TOTP(SECRET).now(), config)
    assert done.returncode == 1, done.stderr
    said = done.stdout.strip()
    assert said.startswith(f"locked: {approver} is locked after too many wrong codes until ")
    until = calendar.timegm(time.strptime(said.split(" until ")[1][:19], "%Y-%m-%d %H:%M:%S"))
    assert started + 595 <= until <= time.time() + 600
    assert said.endswith("UTC; that was the last attempt: the update run is rejected")
    [result] = run.result().results
    assert result.result == "skipped" and image_of(second) == v1b and image_of(first) == v1
    bodies = [r.fields() for r in receiver.received]
    locked = [b for b in bodies if b["title"] == "watch-docker: approver locked"]
    assert len(locked) == 1, bodies
    assert f"{approver} gave 3 wrong codes within 600s: locked until" in locked[0]["message"]
    assert all(SECRET not in json.dumps(b) for b in bodies)
    with get_client(sync_client=True) as client:
        client.delete_variable_by_name(lockout_variable_name(approver))


def test_no_answer_times_out_and_changes_nothing(prefect_server, approval_config):
    container, v1 = outdated("timeout")
    run = RunningUpdate(container, approval_config(f"dave-{tb.RUN_ID}", timeout="4s"))
    [result] = run.result().results
    assert result.result == "skipped" and "no answer within 4s" in result.reason
    assert image_of(container) == v1


def test_the_form_offered_to_the_ui_and_the_pending_list(prefect_server, approval_config):
    from prefect.client.orchestration import get_client

    from watchdocker.deployments.approvals import answer_approval

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
    answer_approval(run_id, approver, pyotp.TOTP(SECRET).now(), reject=True)
    run.result()
