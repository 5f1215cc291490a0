"""The update flow on the real engine and registry: replace, health-check, roll back, recover."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import get_args

import pytest
from conftest import start_cli, watch_docker

import testbed as tb
from watchdocker.config import load_settings
from watchdocker.update.journal import Step

pytestmark = [
    pytest.mark.integration,
    pytest.mark.long,  # minutes: handed out first
    pytest.mark.usefixtures("remove_containers"),
]

FAST = {"stableSeconds": "1s", "healthTimeout": "20s"}


@pytest.fixture
def config(write_config: Callable[..., Path]) -> Callable[..., Path]:
    def make(**update: object) -> Path:
        return write_config(scan={"cacheTTL": "0s"}, update={**FAST, **update})

    return make


def name(suffix: str) -> str:
    return f"wdt-{tb.RUN_ID}-{suffix}"


def inspect(ref: str) -> dict:
    return json.loads(tb.docker_cli("inspect", ref))[0]


def containers_named(prefix: str) -> list[str]:
    out = tb.docker_cli("ps", "-a", "--filter", f"name={prefix}", "--format", "{{.Names}}")
    return sorted(out.split())


def two_versions(repo_name: str, **kwargs: object) -> tuple[str, str]:
    ref, _, v2_id = tb.two_versions(repo_name, **kwargs)  # type: ignore[arg-type]
    return ref, v2_id


def run_v1(ref: str, suffix: str, *extra: str) -> str:
    container = name(suffix)
    tb.run_container(ref, *tb.STOPPABLE_SLEEP, name=container, extra=extra)
    return container


def test_update_replaces_the_container_and_keeps_its_data(update, config):
    ref, v2_id = two_versions("upd")
    # Labelled, so that the run's cleanup removes it.
    volume = tb.docker_cli("volume", "create", "--label", tb.label_filter(), name("upd")).strip()
    container = run_v1(ref, "upd", "-v", f"{volume}:/data", "-e", "MODE=prod", "--label", "app=web")
    tb.docker_cli("exec", container, "sh", "-c", "echo precious > /data/file")
    old_id = inspect(container)["Id"]
    result = update([container], config())[container]
    assert result.result == "updated", result.reason
    assert result.new_image_id == v2_id
    new = inspect(container)
    assert new["Id"] != old_id and new["Image"] == v2_id and new["State"]["Running"]
    assert new["Config"]["Image"] == ref  # still follows its tag
    assert "MODE=prod" in new["Config"]["Env"] and new["Config"]["Labels"]["app"] == "web"
    assert tb.docker_cli("exec", container, "cat", "/data/file").strip() == "precious"
    assert containers_named(container) == [container]  # old one removed, nothing aside


def test_unhealthy_new_image_is_rolled_back(config, prefect_server: str):
    ref, _ = two_versions("sick", v2_healthcheck=["/bin/sh", "-c", "exit 1"])
    container = run_v1(ref, "sick")
    old = inspect(container)
    done = watch_docker("update", container, "--json", "--config", str(config()))
    assert done.returncode == 1, done.stderr  # a rollback is no success
    [result] = json.loads(done.stdout)["results"]
    assert result["result"] == "rolled_back" and "unhealthy" in result["reason"]
    now = inspect(container)
    assert now["Id"] == old["Id"] and now["State"]["Running"]
    assert containers_named(container) == [container]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DRIVER = Path(__file__).with_name("update_driver.py")


def update_paused_at(
    step: str, container: str, new_image_id: str, cfg: Path, pause_file: Path | None = None
) -> subprocess.Popen:
    """The real update path of `container` to `new_image_id` (pushed to its tag's repository),
    in a process of its own that pauses once `step` is journalled (see update_driver.py)."""
    ref = inspect(container)["Config"]["Image"]
    [digest] = [d.split("@")[1] for d in tb.repo_digests(new_image_id)]
    args = [str(cfg), container, ref, digest, step, *([str(pause_file)] if pause_file else [])]
    return subprocess.Popen(
        [sys.executable, str(DRIVER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


STEP_PAUSE = Path(__file__).with_name("step_pause")


def cli_update_paused_at(
    step: str, container: str, cfg: Path, pause_file: Path
) -> subprocess.Popen:
    """`watch-docker update CONTAINER --json` as a user runs it (its flow included), whose
    updater pauses once `step` is journalled (step_pause/sitecustomize.py)."""
    path = os.pathsep.join(filter(None, [str(STEP_PAUSE), os.environ.get("PYTHONPATH")]))
    env = {
        "PYTHONPATH": path,
        "WATCHDOCKER_TEST_PAUSE_AT_STEP": step,
        "WATCHDOCKER_TEST_PAUSE_FILE": str(pause_file),
    }
    return start_cli("update", container, "--json", "--config", str(cfg), env=env)


def journal_step(state_dir: Path, container: str) -> str | None:
    for path in state_dir.glob(f"journal/*/{container}.json"):
        try:
            return json.loads(path.read_text())["step"]
        except (OSError, ValueError):
            return None
    return None


def wait_for_step(state_dir: Path, container: str, step: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while journal_step(state_dir, container) != step:
        if process.poll() is not None:
            raise AssertionError(f"update ended before {step}: {process.stderr.read()}")
        assert time.monotonic() < deadline, f"never reached {step}"
        time.sleep(0.05)


def hold_port_during_update(
    start: Callable[[Path], subprocess.Popen], container: str, port: int, cfg: Path, pause: Path
) -> tuple[subprocess.Popen, socket.socket]:
    """An update (`start(pause)`) paused once the old container is stopped and aside; another
    process takes the old container's host port meanwhile, so that neither the new container
    nor the old one can start. Returns the update, running on, and the port's holder."""
    pause.touch()
    process = start(pause)
    wait_for_step(load_settings(cfg).state_dir, container, "renamed", process)
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen()
    pause.unlink()
    return process, holder


def test_failed_start_port_taken_is_rolled_back(config, tmp_path: Path, prefect_server: str):
    ref, _ = two_versions("port")
    port = _free_port()
    container = run_v1(ref, "port", "-p", f"127.0.0.1:{port}:8080")
    old_id = inspect(container)["Id"]
    cfg = config()

    def start(pause: Path) -> subprocess.Popen:
        return cli_update_paused_at("renamed", container, cfg, pause)

    process, holder = hold_port_during_update(start, container, port, cfg, tmp_path / "pause")
    # The port is given back 15 s later, while the rollback still retries the old container.
    threading.Timer(15.0, holder.close).start()
    started = time.monotonic()
    out, err = process.communicate(timeout=180)  # the rollback's window is 2 min
    assert process.returncode == 1, err  # a rollback is a non-zero exit
    [result] = json.loads(out)["results"]
    assert result["result"] == "rolled_back"
    assert "address already in use" in result["reason"] or "allocated" in result["reason"]
    assert time.monotonic() - started >= 14
    now = inspect(container)
    assert now["Id"] == old_id and now["State"]["Running"]
    assert containers_named(container) == [container]


def test_concurrency_limit_is_observed(update, config):
    refs = [two_versions(f"conc{i}")[0] for i in range(2)]
    names = [run_v1(ref, f"conc{i}") for i, ref in enumerate(refs)]
    results = update(names, config(concurrency=1, stableSeconds="2s"))
    assert [results[n].result for n in names] == ["updated", "updated"]
    spans = []
    for n in names:
        state = inspect(n)["State"]
        started = datetime.fromisoformat(state["StartedAt"][:26])
        spans.append(started)
    first, second = sorted(spans)
    # One slot: the second replacement began only after the first passed its 2 s check.
    assert (second - first).total_seconds() >= 2.0


@pytest.mark.parametrize("step", get_args(Step))
def test_killed_at_each_step_then_recovered(step: str, config):
    ref, v2_id = two_versions(f"kill-{step}")
    container = run_v1(ref, f"kill-{step}")
    old = inspect(container)
    cfg = config()
    state_dir = load_settings(cfg).state_dir
    process = update_paused_at(step, container, v2_id, cfg)
    wait_for_step(state_dir, container, step, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    recovered = watch_docker("recover", "--config", str(cfg))
    assert recovered.returncode == 0, recovered.stderr
    expected = "finished" if step == "healthy" else "rolled back"
    assert f"{container}: interrupted update {expected}" in recovered.stdout
    assert containers_named(container) == [container]  # never both, no renamed leftovers
    now = inspect(container)
    assert now["State"]["Running"]  # never none
    if step == "healthy":
        assert now["Image"] == v2_id
    else:
        assert now["Id"] == old["Id"]
    assert journal_step(state_dir, container) is None


def test_dependent_sharing_the_network_is_recreated_after(update, config):
    ref, v2_id = two_versions("main")
    main = run_v1(ref, "main")
    side_ref = tb.repo("open", "side") + ":latest"
    tb.build_image(side_ref, marker="side-1")
    side = name("side")
    command = "trap 'exit 0' TERM; sleep 3600 & wait"
    tb.run_container(
        side_ref, "sh", "-c", command, name=side, extra=["--network", f"container:{main}"]
    )
    side_image = inspect(side)["Image"]
    results = update([main], config())
    assert results[main].result == "updated", results[main].reason
    assert results[side].result == "updated" and main in results[side].reason
    new_main = inspect(main)
    new_side = inspect(side)
    assert new_main["Image"] == v2_id and new_side["Image"] == side_image
    assert new_side["HostConfig"]["NetworkMode"] == f"container:{new_main['Id']}"
    assert new_side["State"]["Running"]
    assert containers_named(side) == [side]


def test_dry_run_changes_nothing(update, config, prefect_server: str):
    from watchdocker.flows.update import update as update_flow

    ref, _ = two_versions("dry")
    container = run_v1(ref, "dry")
    before = inspect(container)["Id"]
    report = update_flow(containers=[container], dry_run=True, config_file=str(config()))
    [result] = report.results
    assert result.result == "would_update" and report.summary == "1 would be updated"
    assert inspect(container)["Id"] == before


def test_compose_containers_are_skipped_unless_allowed(update, config):
    ref, _ = two_versions("compose")
    labels = [
        "--label",
        "com.docker.compose.project=shop",
        "--label",
        "com.docker.compose.service=web",
    ]
    container = run_v1(ref, "compose", *labels)
    result = update([container], config())[container]
    assert result.result == "skipped" and "compose project 'shop'" in result.reason
    result = update([container], config(allowComposeUpdate=True))[container]
    assert result.result == "updated", result.reason
    labels_now = inspect(container)["Config"]["Labels"]
    assert labels_now["com.docker.compose.project"] == "shop"
    assert labels_now["com.docker.compose.service"] == "web"


def test_a_summary_and_an_alert_are_sent(update, write_config, receiver):
    good_ref, _ = two_versions("note-good")
    bad_ref, _ = two_versions("note-bad", v2_healthcheck=["/bin/sh", "-c", "exit 1"])
    good, bad = run_v1(good_ref, "note-good"), run_v1(bad_ref, "note-bad")
    url = f"json://127.0.0.1:{receiver.port}/hook"
    cfg = write_config(scan={"cacheTTL": "0s"}, update=FAST, notify={"urls": [url]})
    results = update([good, bad], cfg)
    assert (results[good].result, results[bad].result) == ("updated", "rolled_back")
    bodies = [r.fields() for r in receiver.received]
    summary = [b for b in bodies if good in b["message"] and bad in b["message"]]
    alerts = [b for b in bodies if bad in b["message"] and good not in b["message"]]
    assert len(summary) == 1 and len(alerts) == 1
    assert "unhealthy" in alerts[0]["message"] and alerts[0]["type"] in ("warning", "failure")


def test_auto_update_needs_update_enabled(prefect_server: str, config):
    from watchdocker.flows.update import auto_update

    ref, v2_id = two_versions("auto")
    container = run_v1(ref, "auto")
    assert auto_update(config_file=str(config())).results == []
    assert inspect(container)["Image"] != v2_id
    report = auto_update(config_file=str(config(enabled=True)))
    assert [(r.name, r.result) for r in report.results] == [(container, "updated")]
    assert inspect(container)["Image"] == v2_id


def test_a_stopped_container_is_replaced_by_a_stopped_one(update, config):
    ref, v2_id = two_versions("stopped")
    container = run_v1(ref, "stopped")
    tb.docker_cli("stop", container)
    result = update([container], config())[container]
    assert result.result == "updated", result.reason
    now = inspect(container)
    assert now["Image"] == v2_id and not now["State"]["Running"]
    assert containers_named(container) == [container]
