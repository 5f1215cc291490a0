"""`watch-docker scan` as a user runs it: a subprocess, the real engine and registry."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import watch_docker

import testbed as tb

pytestmark = pytest.mark.integration

JSON_KEYS = {
    "id",
    "name",
    "image",
    "running",
    "status",
    "reason",
    "local_digest",
    "remote_digest",
}


@pytest.fixture(scope="module")
def containers() -> Iterator[dict[str, str]]:
    ref = tb.repo("open", "cli") + ":latest"
    tb.build_image(ref, marker="cli-1")
    digest = tb.push(ref)
    running = f"wdt-{tb.RUN_ID}-cli-running"
    stopped = f"wdt-{tb.RUN_ID}-cli-stopped"
    tb.run_container(ref, "sleep", "3600", name=running)
    tb.run_container(ref, "true", name=stopped)
    tb.docker_cli("wait", stopped)
    yield {"running": running, "stopped": stopped, "digest": digest}
    tb.docker_cli("rm", "-f", running, stopped, check=False)


def test_json_contract_and_include_stopped(
    prefect_server: str, containers: dict[str, str], write_config: Callable[..., Path]
):
    config = write_config(scan={"cacheTTL": "0s"})
    done = watch_docker("scan", "--json", "--config", str(config))
    assert done.returncode == 0, done.stderr
    listed = {c["name"]: c for c in json.loads(done.stdout)["containers"]}
    assert containers["stopped"] not in listed
    mine = listed[containers["running"]]
    assert set(mine) == JSON_KEYS
    assert mine["running"] is True and mine["status"] == "up_to_date"
    assert mine["local_digest"] == mine["remote_digest"] == containers["digest"]

    done = watch_docker("scan", "--json", "--include-stopped", "--config", str(config))
    assert done.returncode == 0, done.stderr
    listed = {c["name"]: c for c in json.loads(done.stdout)["containers"]}
    assert listed[containers["stopped"]]["running"] is False
    assert listed[containers["stopped"]]["status"] == "up_to_date"


def test_table_output(prefect_server: str, containers: dict[str, str], write_config):
    done = watch_docker("scan", "--config", str(write_config()), env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert containers["running"] in done.stdout and "up_to_date" in done.stdout
    # The footer counts what the engine holds (other tests' containers too): its form only.
    assert re.search(r"^\d+ updates? available", done.stdout, re.M), done.stdout


def test_bad_config_is_one_line_naming_the_key(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text("scan:\n  concurrency: lots\n")
    done = watch_docker("scan", "--json", "--config", str(config))
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "scan.concurrency" in lines[0] and "lots" in lines[0]


def test_broken_yaml_names_the_line(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text("scan:\n  concurrency: 3\n  cron: [unclosed\n")
    done = watch_docker("scan", "--config", str(config))
    assert done.returncode == 2 and "line" in done.stderr and "Traceback" not in done.stderr


def test_no_engine_is_one_line(tmp_path: Path):
    done = watch_docker("scan", env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Docker engine" in lines[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_embedded_default_starts_a_local_server_and_exits_cleanly(
    tmp_path: Path, containers: dict[str, str], write_config
):
    """No PREFECT_API_URL and no server running: a command that runs a flow (an update; a scan
    runs in its own process instead) brings up its own server (SQLite under the state
    directory), runs the flow, stops it, and prints no traceback."""
    env = {
        "WATCH_PREFECT_ADDR": f"127.0.0.1:{_free_port()}",
        "WATCH_STATE_DIR": str(tmp_path / "state"),
    }
    clean = {k: v for k, v in os.environ.items() if k not in {"PREFECT_API_URL", "PREFECT_HOME"}}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "watchdocker.cli.app",
            "update",
            "--all",
            "--dry-run",
            "--json",
            "--config",
            str(write_config()),
        ],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "results" in json.loads(done.stdout)
    assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
    assert (tmp_path / "state" / "prefect" / "prefect.db").exists()
