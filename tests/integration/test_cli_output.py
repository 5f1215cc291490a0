"""What `watch-docker scan` and `update` print, as a person or a script reads it: the real CLI
in a subprocess, piped and under an 80-column pseudo-terminal; the scan artifact's order."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import watch_docker

import testbed as tb
from watchdocker.report_rows import ATTENTION

pytestmark = pytest.mark.integration

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
FULL_DIGEST = re.compile(r"[0-9a-f]{64}")
SCAN_HEADER = ["NAME", "IMAGE", "STATUS", "LOCAL", "REMOTE", "REASON"]


@pytest.fixture(scope="module")
def containers() -> Iterator[dict[str, str]]:
    outdated, _, _ = tb.outdated_container("out-old")
    current = tb.current_container("out-cur")
    yield {"outdated": outdated, "current": current}
    tb.docker_cli("rm", "-f", outdated, current, check=False)


def in_a_terminal(*args: str, columns: int) -> tuple[int, str]:
    """The CLI with stdout on a pseudo-terminal `columns` wide: (exit code, what it showed)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "watchdocker.cli.app", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": str(columns), "LINES": "50"},
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    process.stderr.read()  # type: ignore[union-attr]
    code = process.wait(300)
    return code, ANSI.sub("", shown.decode()).replace("\r\n", "\n")


def test_piped_scan_is_one_plain_line_per_container_attention_first(
    prefect_server: str, containers: dict[str, str], write_config: Callable[..., Path]
):
    config = str(write_config(scan={"cacheTTL": "0s"}))
    done = watch_docker("scan", "--config", config)
    assert done.returncode == 0, done.stderr
    *table, summary = done.stdout.rstrip("\n").split("\n")
    header, *lines = table
    assert header.split("\t") == SCAN_HEADER
    rows = [line.split("\t") for line in lines]
    assert all(len(row) == len(SCAN_HEADER) for row in rows), lines
    by_name = {row[0]: dict(zip(SCAN_HEADER, row, strict=True)) for row in rows}
    assert set(containers.values()) <= set(by_name)
    outdated = by_name[containers["outdated"]]
    assert outdated["STATUS"] == "update_available"
    assert re.fullmatch(r"[0-9a-f]{12}", outdated["LOCAL"]), outdated
    assert re.fullmatch(r"[0-9a-f]{12}", outdated["REMOTE"]), outdated
    assert outdated["LOCAL"] != outdated["REMOTE"]
    assert outdated["REASON"] != "-"
    ranks = [ATTENTION[row[2]] for row in rows]
    assert ranks == sorted(ranks), [row[:3] for row in rows]  # errors and updates first
    assert not FULL_DIGEST.search(done.stdout)
    assert "update" in summary and "\t" not in summary
    artifact_leads_with_counts_then_attention_first(containers)

    # The full digests are in --json, for the same containers.
    done = watch_docker("scan", "--json", "--config", config)
    listed = {c["name"]: c for c in json.loads(done.stdout)["containers"]}
    full = listed[containers["outdated"]]
    assert full["local_digest"].removeprefix("sha256:").startswith(outdated["LOCAL"])
    assert full["remote_digest"].removeprefix("sha256:").startswith(outdated["REMOTE"])


def artifact_leads_with_counts_then_attention_first(containers: dict[str, str]) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        latest = client.read_latest_artifacts(limit=50)
    [artifact, *_] = [a for a in latest if a.key == "watchdocker-scan"]
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert list(rows[0]) == ["name", "image", "status", "local", "remote", "reason"]
    ranks = [ATTENTION[row["status"]] for row in rows]
    assert ranks == sorted(ranks), rows
    names = [row["name"] for row in rows]
    assert names.index(containers["outdated"]) < names.index(containers["current"])
    assert artifact.description.startswith(f"**scan of {len(rows)} containers: ")
    assert "update_available" in artifact.description


def test_scan_in_80_columns_keeps_status_words_whole(
    prefect_server: str, containers: dict[str, str], write_config: Callable[..., Path]
):
    code, shown = in_a_terminal("scan", "--config", str(write_config()), columns=80)
    assert code == 0, shown
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 80, shown
    # Each status word is on one line, whole: never `update_ava` / `ilable`.
    assert sum("update_available" in line for line in lines) >= 1, shown
    assert "up_to_date" in shown
    assert not re.search(r"update_ava\s*$|^\s*ilable", shown, re.M), shown
    assert not FULL_DIGEST.search(shown)
    # Containers of other tests of this run may be outdated too: "1 update" or "N updates".
    assert "STATUS" in shown and re.search(r"\b\d+ updates? available\b", shown), shown


def test_piped_update_dry_run_is_plain_lines(
    prefect_server: str, containers: dict[str, str], write_config: Callable[..., Path]
):
    config = str(write_config())
    done = watch_docker("update", containers["outdated"], "--dry-run", "--config", config)
    assert done.returncode == 0, done.stderr
    header, *lines, _summary = done.stdout.rstrip("\n").split("\n")
    assert header.split("\t") == ["NAME", "IMAGE", "STATUS", "REASON"]
    rows = [line.split("\t") for line in lines]
    assert [row[0] for row in rows] == [containers["outdated"]]
    assert all(len(row) == 4 for row in rows), lines


def test_an_unreachable_engine_is_named_with_its_cause():
    done = watch_docker("scan", env={"DOCKER_HOST": "tcp://127.0.0.1:1"})
    assert done.returncode == 1
    assert done.stderr == (
        "watch-docker: cannot reach the Docker engine at tcp://127.0.0.1:1: connection refused\n"
    )
