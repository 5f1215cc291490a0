"""Bad input to the command line, as a user gives it (real subprocesses): one line on stderr
naming what was wrong and a non-zero exit, never a traceback; nothing written, nothing served."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml
from conftest import one_line, watch_docker

pytestmark = pytest.mark.integration

# Every command that reads the settings; none gets as far as a server or an engine.
COMMANDS = [["serve"], ["scan"], ["deployments"], ["approvals"], ["recover"]]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    # An explicit file, so that no config.yaml of the working directory or the user counts.
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"stateDir": str(tmp_path / "state")}))
    return path


def refused(config: Path, command: list[str], env: dict[str, str] | None = None) -> str:
    """The one line `command` exits 2 with; `deployments` must not have written its file."""
    output = config.parent / "prefect.yaml"
    extra = ["--output", str(output)] if command == ["deployments"] else []
    done = watch_docker(*command, *extra, "--config", str(config), env=env)
    assert done.returncode == 2, (command, done.returncode, done.stdout, done.stderr)
    assert not output.exists()
    return one_line(done.stderr)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_config_file_that_is_not_utf8(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("scan:\n  concurrency: 3\n# caf\u00e9\n".encode("latin-1"))
    assert refused(path, command) == (
        f"watch-docker: config file {path} is not UTF-8 text: byte 0xe9 on line 3"
    )


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("variable", "key"),
    [("WATCH_SCAN_CRON", "scan.cron"), ("WATCH_UPDATE_CRON", "update.autoUpdateCron")],
)
def test_a_cron_that_is_not_one(config: Path, command: list[str], variable: str, key: str) -> None:
    # `deployments` used to write `cron: banana` and exit 0; `serve` failed with a traceback.
    line = refused(config, command, {variable: "banana", "WATCH_UPDATE_ENABLED": "true"})
    assert line == (
        f"watch-docker: invalid configuration: {key} ({variable}): not a cron expression: "
        "1 field(s), not 5 (minute hour day-of-month month day-of-week) (got 'banana')"
    )


@pytest.mark.parametrize("raw", ["0s", "1ms"])
def test_a_scan_interval_below_the_minimum(config: Path, raw: str) -> None:
    # 0s used to become hourly, and 1ms was written as `interval: 0.001`.
    for command in (["deployments"], ["serve"]):
        assert refused(config, command, {"WATCH_SCAN_INTERVAL": raw}) == (
            "watch-docker: invalid configuration: scan.interval (WATCH_SCAN_INTERVAL): "
            f"below the minimum scan interval of 10s (got '{raw}')"
        )


def test_a_totp_secret_too_short_is_refused_unshown(config: Path) -> None:
    secret = "JBSWY3DPEHPK3PXP"  # 80 bits
    for command in (["serve"], ["approvals"]):
        line = refused(config, command, {"WATCH_TOTP_SECRET": secret})
        assert line == (
            "watch-docker: invalid configuration: twofa.users.default.otpSecret "
            "(WATCH_TOTP_SECRET): TOTP secret has only 80 bits; at least 160"
        )


@pytest.mark.parametrize(
    ("run_id", "problem"),
    [
        (
            str(uuid.UUID(int=1)),
            "no flow run 00000000-0000-0000-0000-000000000001 on this Prefect server",
        ),
        ("not-a-run", "'not-a-run' is not a flow run id"),
    ],
)
def test_approve_a_run_that_does_not_exist(
    prefect_server: str, config: Path, run_id: str, problem: str
) -> None:
    done = watch_docker("approve", run_id, "--code", "123456", "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert one_line(done.stderr) == f"watch-docker: {problem}"
    assert done.stdout == ""
