"""Updates of compose services through compose (update.allowComposeUpdate): the new image
rolled out by `up -d --no-deps <service>`, so that a later `docker-compose up -d` changes
nothing; a failing new image rolled back through compose; a killed run recovered."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from compose_bed import compose, compose_text, down, project_name

import testbed as tb
from watchdocker.config import load_settings
from watchdocker.flows.clients import engine_for, updater_for
from watchdocker.update.compose_update import compose_service

pytestmark = [pytest.mark.integration, pytest.mark.long]  # over a minute: handed out first

FAST = {"stableSeconds": "1s", "healthTimeout": "20s"}


def inspect(ref: str) -> dict:
    return json.loads(tb.docker_cli("inspect", ref))[0]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Callable[..., tuple[str, Path]]]:
    """A compose project in its own folder, brought up with docker-compose: (name, folder)."""
    made: list[tuple[str, Path]] = []

    def make(suffix: str, services: dict[str, str], **extra: dict) -> tuple[str, Path]:
        name = project_name(suffix)
        folder = tmp_path / name
        folder.mkdir()
        (folder / "docker-compose.yml").write_text(compose_text(services, **extra))
        made.append((name, folder))
        up = compose(folder, name, "up", "-d")
        assert up.returncode == 0, up.stderr
        return name, folder

    yield make
    for name, folder in made:
        down(folder, name)


def nothing_to_do(folder: Path, name: str) -> str:
    """`docker-compose up -d` as its user runs it: every container up to date."""
    again = compose(folder, name, "up", "-d")
    assert again.returncode == 0, again.stderr
    said = [line for line in again.stderr.splitlines() if line.strip()]
    assert said and all("is up-to-date" in line for line in said), again.stderr
    return again.stderr


def test_a_service_is_updated_through_compose_and_compose_then_has_nothing_to_do(
    update, write_config, project
):
    ref, v1_id, v2_id = tb.two_versions("cmp-web")
    name, folder = project("upd", {"web": ref, "db": tb.BASE_IMAGE})
    web, db = f"{name}_web_1", f"{name}_db_1"
    before_web, before_db = inspect(web), inspect(db)
    assert before_web["Image"] == v1_id

    config = write_config(scan={"cacheTTL": "0s"}, update={**FAST})
    skipped = update([web], config)[web]
    assert skipped.result == "skipped" and "update.allowComposeUpdate" in skipped.reason
    assert inspect(web)["Id"] == before_web["Id"]

    config = write_config(scan={"cacheTTL": "0s"}, update={**FAST, "allowComposeUpdate": True})
    result = update([web], config)[web]
    assert result.result == "updated", result.reason
    after = inspect(web)
    assert after["Image"] == v2_id and after["Id"] != before_web["Id"]
    # Compose made it: its labels, its name, its network; the other service untouched.
    labels, old_labels = after["Config"]["Labels"], before_web["Config"]["Labels"]
    for key in ("project", "service", "project.working_dir", "container-number"):
        assert labels[f"com.docker.compose.{key}"] == old_labels[f"com.docker.compose.{key}"]
    assert set(after["NetworkSettings"]["Networks"]) == set(
        before_web["NetworkSettings"]["Networks"]
    )
    assert inspect(db)["Id"] == before_db["Id"]
    assert not tb.docker_cli("ps", "-aq", "--filter", f"name={web}-watchdocker-old").strip()

    nothing_to_do(folder, name)
    assert inspect(web)["Id"] == after["Id"]
    assert inspect(db)["Id"] == before_db["Id"]


def test_a_failing_new_image_is_rolled_back_through_compose(update, write_config, project):
    ref, v1_id, _ = tb.two_versions("cmp-bad", v2_healthcheck=["/bin/sh", "-c", "exit 1"])
    name, folder = project("bad", {"web": ref})
    web = f"{name}_web_1"
    config = write_config(scan={"cacheTTL": "0s"}, update={**FAST, "allowComposeUpdate": True})
    result = update([web], config)[web]
    assert result.result == "rolled_back", result.reason
    assert "unhealthy" in result.reason
    now = inspect(web)
    assert now["Image"] == v1_id and now["State"]["Running"]
    assert tb.docker_cli("image", "inspect", "--format", "{{.Id}}", ref).strip() == v1_id
    nothing_to_do(folder, name)
    assert inspect(web)["Id"] == now["Id"]


def test_an_interrupted_compose_update_is_rolled_back_by_recovery(write_config, project):
    """A run killed after compose rolled out the new image, before its health check passed:
    the next run's recovery tags the old image back and has compose recreate the service."""
    ref, v1_id, v2_id = tb.two_versions("cmp-kill")
    name, folder = project("kill", {"web": ref})
    web = f"{name}_web_1"
    settings = load_settings(write_config(update={"allowComposeUpdate": True}))
    engine = engine_for(settings)
    try:
        updater = updater_for(settings, engine)
        assert updater.compose is not None
        old = inspect(web)
        service = compose_service(old)
        assert service is not None and service.service == "web"
        entry = updater.compose.begin(old, web, service, ref, v2_id)
        tb.docker_cli("pull", f"{ref.rsplit(':', 1)[0]}:latest")  # the new image, as a pull
        # What a killed process leaves: compose rolled out v2, the entry short of `healthy`.
        assert compose(folder, name, "up", "-d", "--no-deps", "web").returncode == 0
        assert inspect(web)["Image"] == v2_id
        updater.journal.advance(entry, "created", pid=2**22 + 7)  # a process that is gone

        [recovered] = updater.recover()
        assert (recovered.name, recovered.outcome) == (web, "rolled_back")
        now = inspect(web)
        assert now["Image"] == v1_id and now["State"]["Running"]
        assert updater.journal.read(web) is None
        nothing_to_do(folder, name)
    finally:
        engine.close()


WHOLE = {"labels": {tb.LABEL: tb.RUN_ID, "watchdocker.compose.whole-project": "true"}}


def test_a_whole_project_is_updated_together_and_rolled_back_together(
    update, write_config, project
):
    good_ref, good_v1, good_v2 = tb.two_versions("cmp-all-good")
    bad_ref, bad_v1, _ = tb.two_versions("cmp-all-bad", v2_healthcheck=["/bin/sh", "-c", "exit 1"])
    other_ref, other_v1, other_v2 = tb.two_versions("cmp-all-other")
    name, folder = project("all", {"good": good_ref, "bad": bad_ref}, good=WHOLE, bad=WHOLE)
    good, bad = f"{name}_good_1", f"{name}_bad_1"
    config = write_config(scan={"cacheTTL": "0s"}, update={**FAST, "allowComposeUpdate": True})

    results = update([good, bad], config)
    assert (results[good].result, results[bad].result) == ("rolled_back", "rolled_back")
    assert f"{bad}: the new container is unhealthy" in results[good].reason
    assert inspect(good)["Image"] == good_v1 and inspect(bad)["Image"] == bad_v1
    assert tb.docker_cli("image", "inspect", "--format", "{{.Id}}", good_ref).strip() == good_v1
    nothing_to_do(folder, name)

    name2, folder2 = project("all2", {"one": good_ref, "two": other_ref}, one=WHOLE, two=WHOLE)
    one, two = f"{name2}_one_1", f"{name2}_two_1"
    results = update([one, two], config)
    assert (results[one].result, results[two].result) == ("updated", "updated"), results
    assert inspect(one)["Image"] == good_v2 and inspect(two)["Image"] == other_v2
    ids = {c: inspect(c)["Id"] for c in (one, two)}
    nothing_to_do(folder2, name2)
    assert {c: inspect(c)["Id"] for c in (one, two)} == ids
    assert other_v1 != other_v2
