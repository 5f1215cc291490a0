"""`watch-docker update` (and `scan`) as a person runs it, through the CLI: it sees the registry
as it is now (not the cache of an earlier run), names unknown containers at once without
scanning, and a dry run says what it would update and counts it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import api_request, run_artifact, watch_docker
from faults import LOCAL_BUILDS_CHECKED, container_on, dead_address

import testbed as tb

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("remove_containers")]

FAST = {"stableSeconds": "1s", "healthTimeout": "20s"}


@pytest.fixture
def cached_config(write_config: Callable[..., Path]) -> Path:
    """A digest cache far longer than the test: only a fresh lookup can see a new push."""
    return write_config(scan={"cacheTTL": "10m"}, update=FAST)


def image_of(container: str) -> str:
    return tb.docker_cli("inspect", "--format", "{{.Image}}", container).strip()


def update_json(*args: str) -> tuple[int, dict[str, dict], str]:
    done = watch_docker("update", "--json", *args)
    rows = {r["name"]: r for r in json.loads(done.stdout)["results"]} if done.stdout else {}
    return done.returncode, rows, done.stderr


def test_two_updates_within_the_cache_ttl_both_update(prefect_server: str, cached_config: Path):
    container, _, v2_id = tb.outdated_container("fresh-twice")
    code, rows, err = update_json(container, "--config", str(cached_config))
    assert code == 0, err
    assert rows[container]["result"] == "updated", rows
    assert image_of(container) == v2_id
    # A new image is pushed a moment later, well within scan.cacheTTL.
    ref = tb.repo("open", "fresh-twice") + ":latest"
    v3_id = tb.build_image(ref, marker="fresh-twice-3")
    tb.push(ref)
    code, rows, err = update_json(container, "--config", str(cached_config))
    assert code == 0, err
    assert rows[container]["result"] == "updated", rows
    assert image_of(container) == v3_id


def test_a_scan_within_the_cache_ttl_sees_a_new_push(prefect_server: str, cached_config: Path):
    container = tb.current_container("fresh-scan")
    args = ("scan", "--json", "--config", str(cached_config))
    done = watch_docker(*args)
    assert done.returncode == 0, done.stderr
    [row] = [c for c in json.loads(done.stdout)["containers"] if c["name"] == container]
    assert row["status"] == "up_to_date", row
    ref = tb.repo("open", "fresh-scan") + ":latest"
    tb.build_image(ref, marker="fresh-scan-2")
    pushed = tb.push(ref)
    done = watch_docker(*args)
    assert done.returncode == 0, done.stderr
    [row] = [c for c in json.loads(done.stdout)["containers"] if c["name"] == container]
    assert row["status"] == "update_available" and row["remote_digest"] == pushed, row


def update_runs_naming(api: str, name: str) -> list[dict]:
    answer = api_request(
        api, "POST", "/flow_runs/filter", json={"flow_runs": {"name": {"like_": "update"}}}
    )
    answer.raise_for_status()
    return [r for r in answer.json() if name in (r["parameters"].get("containers") or [])]


@pytest.mark.exclusive  # bounds how long the command takes
def test_unknown_names_fail_at_once_without_a_scan(prefect_server: str, cached_config: Path):
    known = tb.current_container("fresh-known")
    ghost, spook = f"wdt-{tb.RUN_ID}-ghost", f"wdt-{tb.RUN_ID}-spook"
    before = image_of(known)
    started = time.monotonic()
    done = watch_docker("update", known, ghost, spook, "--config", str(cached_config))
    elapsed = time.monotonic() - started
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"'{ghost}', '{spook}'" in lines[0] and known not in lines[0]
    assert "Traceback" not in done.stderr
    # No server was needed, no run was made: the interpreter's start is most of it.
    assert elapsed < 5, elapsed
    assert update_runs_naming(prefect_server, ghost) == []
    assert image_of(known) == before


def test_a_run_from_the_ui_with_an_unknown_name_fails_before_scanning(
    prefect_server: str, cached_config: Path
):
    from watchdocker.flows.update import update as update_flow

    ghost = f"wdt-{tb.RUN_ID}-ghost-ui"
    state = update_flow(containers=[ghost], config_file=str(cached_config), return_state=True)
    assert state.is_failed()
    assert f"no container named '{ghost}'" in state.message
    run = api_request(prefect_server, "GET", f"/flow_runs/{state.state_details.flow_run_id}")
    sub_runs = api_request(
        prefect_server,
        "POST",
        "/flow_runs/filter",
        json={"flow_runs": {"parent_flow_run_id": {"any_": [run.json()["id"]]}}},
    )
    assert [r for r in sub_runs.json() if r["name"].startswith("scan")] == []


def test_dry_run_says_what_would_be_updated_and_counts_it(
    prefect_server: str, write_config: Callable[..., Path]
):
    config = write_config(
        scan={"cacheTTL": "0s"},
        update=FAST,
        registry={"timeout": "1s", "retries": 1},
        policy=LOCAL_BUILDS_CHECKED,
    )
    outdated, v1_id, _ = tb.outdated_container("fresh-dry")
    current = tb.current_container("fresh-dry-current")
    down = container_on(dead_address(), "fresh-dry-down")  # a registry that is down
    code, rows, err = update_json("--all", "--dry-run", "--config", str(config))
    assert code == 0, err
    assert rows[outdated]["result"] == "would_update", rows
    assert "→" in rows[outdated]["reason"] and current not in rows
    # What it could not check is listed, as left out, not as a failure of the run.
    assert rows[down]["result"] == "skipped", rows
    assert rows[down]["reason"].startswith("scan failed, not updated: "), rows[down]
    assert "cannot be reached" in rows[down]["reason"], rows[down]
    done = watch_docker(
        "update", "--all", "--dry-run", "--config", str(config), env={"COLUMNS": "200"}
    )
    assert done.returncode == 0, done.stderr
    assert "would_update" in done.stdout and "1 would be updated" in done.stdout
    assert "nothing to update" not in done.stdout
    assert image_of(outdated) == v1_id
    # The run in the UI: its name counts them, its artifact has the same rows.
    runs = api_request(
        prefect_server,
        "POST",
        "/flow_runs/filter",
        json={"flow_runs": {"name": {"like_": "would be updated"}}, "sort": "START_TIME_DESC"},
    ).json()
    [run] = [r for r in runs if r["parameters"].get("dry_run") and r["parameters"].get("all")][:1]
    assert run["name"] == "update: 1 would be updated", run
    table = run_artifact(prefect_server, run["id"], "watchdocker-update")["data"]
    assert "would_update" in str(table) and outdated in str(table)
