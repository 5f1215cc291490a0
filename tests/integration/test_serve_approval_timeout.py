"""A served update run suspended for approval that nobody answers within `approval.timeout`:
Prefect's server fails it and the run's own code never runs again, yet people are told it was
rejected (by `serve`), once; the container is left as it was."""

from __future__ import annotations

import time
from pathlib import Path

import pyotp
import pytest
from conftest import _free_port, api_request, run_deployment, start_serve, stop_serve, wait_for
from receiver import Receiver

import testbed as tb
from watchdocker.deployments.expired_approvals import TOLD_TAG

pytestmark = [pytest.mark.integration, pytest.mark.long]  # over a minute: handed out first


def rejections(receiver: Receiver, container: str) -> list[dict[str, str]]:
    messages = [r.fields() for r in receiver.received]
    rejected = [m for m in messages if m["title"] == "watch-docker: update rejected"]
    return [m for m in rejected if container in m["message"]]


def test_a_suspended_approval_that_times_out_is_told_rejected(tmp_path: Path, receiver):
    secret, approver = pyotp.random_base32(32), f"gina-{tb.RUN_ID}"
    config = tmp_path / "config.yaml"
    config.write_text(
        "scan:\n  cacheTTL: 0s\n"
        "update:\n  stableSeconds: 1s\n"
        "approval:\n  timeout: 15s\n"
        f"notify:\n  urls: ['json://127.0.0.1:{receiver.port}/hook']\n"
        f"policy:\n  onlyLabels: ['{tb.label_filter()}']\n"
        f"twofa:\n  users:\n    {approver}:\n      otpSecret: {secret}\n"
    )
    container, v1, _ = tb.outdated_container("approval-timeout")
    api, serve = start_serve(tmp_path, config, _free_port())
    try:
        parameters = {"containers": [container], "require_approval": True}
        run_id = run_deployment(api, "update", parameters)

        def state() -> dict:
            return api_request(api, "GET", f"/flow_runs/{run_id}").json()["state"]

        wait_for(lambda: state()["name"] == "Suspended", timeout=180)
        asked = [r.fields() for r in receiver.received]
        assert any(m["title"] == "watch-docker: approval needed" for m in asked), asked

        [told] = wait_for(lambda: rejections(receiver, container), timeout=90)  # type: ignore[misc]
        assert state()["type"] == "FAILED"
        assert told["message"].startswith(f"no answer within 15s: {container}. "), told
        assert run_id in told["message"]  # the run's URL
        tags = api_request(api, "GET", f"/flow_runs/{run_id}").json()["tags"]
        assert TOLD_TAG in tags

        time.sleep(12)  # serve looks every 10 s: it does not tell again
        assert len(rejections(receiver, container)) == 1
        image = tb.docker_cli("inspect", "--format", "{{.Image}}", container).strip()
        assert image == v1  # rejected: nothing changed
    finally:
        stop_serve(serve)
        tb.docker_cli("rm", "-f", container, check=False)
