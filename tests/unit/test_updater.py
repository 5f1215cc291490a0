"""The updater over a fake engine (fake_engine.py) and a real journal: the order of its engine
calls, the step hook, and for each call that can fail the rollback that follows and what is
left: the old container back under its name and running, nothing aside, the journal empty."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import get_args

import pytest
from docker.errors import APIError, DockerException
from fake_engine import Behaviour, FakeEngine

from watchdocker.update.journal import Journal, Step, aside_name
from watchdocker.update.updater import HealthPolicy, StepHook, Updater

REF = "registry.test/team/web:latest"
# The health wait gives up after this long: long enough for the fake's at-once answers.
HEALTH = HealthPolicy(timeout=0.3, stable_seconds=0)


class Killed(BaseException):
    """The process dies here: nothing the updater catches."""


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal")


def updater(engine: FakeEngine, journal: Journal, on_step: StepHook | None = None) -> Updater:
    return Updater(engine, journal, HEALTH, on_step=on_step)  # type: ignore[arg-type]


def outdated(
    engine: FakeEngine, *, healthcheck: bool = False, behaviour: Behaviour = "healthy"
) -> tuple[str, str]:
    """`web` running on the old image, its tag moved to a new one (pulled): (old id, new image)."""
    engine.add_image(REF)
    old_id = engine.run("web", REF)
    return old_id, engine.add_image(REF, healthcheck=healthcheck, behaviour=behaviour)


def roles(engine: FakeEngine, old_id: str) -> list[tuple[str, ...]]:
    """The engine's changes with the ids and the aside name replaced by what they are."""
    named = {old_id: "OLD", aside_name("web", old_id): "ASIDE"}
    return [
        tuple(named.get(a, "NEW" if re.fullmatch("[0-9a-f]{64}", a) else a) for a in call)
        for call in engine.changes()
    ]


def assert_old_one_back(engine: FakeEngine, journal: Journal, old_id: str) -> None:
    web = engine.named("web")
    assert web is not None and web["Id"] == old_id and web["State"]["Running"]
    assert engine.names() == ["web"]  # no new container left, nothing aside
    assert journal.entries() == []


def test_a_good_update_in_order_each_step_journalled_before_the_hook(engine, journal):
    old_id, new_image = outdated(engine, healthcheck=True)
    seen: list[tuple[Step, Step | None, int]] = []

    def hook(step: Step) -> None:
        entry = journal.read("web")
        seen.append((step, entry.step if entry else None, len(engine.changes())))

    result = updater(engine, journal, hook).replace("web", old_id, new_image, REF)
    assert result.result == "updated", result.reason
    assert roles(engine, old_id) == [
        ("stop", "OLD"),
        ("rename", "OLD", "ASIDE"),
        ("create", "web"),
        ("start", "NEW"),
        ("remove_container", "OLD"),
    ]
    # (step, what the journal says then, engine changes made by then)
    assert seen == [
        ("begun", "begun", 0),
        ("stopping", "stopping", 0),
        ("renamed", "renamed", 2),
        ("created", "created", 3),
        ("starting", "starting", 4),
        ("healthy", "healthy", 4),
    ]
    web = engine.named("web")
    assert web is not None and web["Id"] == result.new_id and web["Image"] == new_image
    assert web["State"]["Running"] and engine.names() == ["web"]
    assert journal.entries() == []


def test_a_stopped_container_is_replaced_without_stop_or_start(engine, journal):
    old_id, new_image = outdated(engine)
    engine.stop(old_id)
    engine.calls.clear()
    result = updater(engine, journal).replace("web", old_id, new_image, REF)
    assert result.result == "updated", result.reason
    assert roles(engine, old_id) == [
        ("rename", "OLD", "ASIDE"),
        ("create", "web"),
        ("remove_container", "OLD"),
    ]
    web = engine.named("web")
    assert web is not None and web["Image"] == new_image and not web["State"]["Running"]


UNDO_NEW = [("remove_container", "NEW"), ("rename", "OLD", "web"), ("start", "OLD")]
SWAP = [("stop", "OLD"), ("rename", "OLD", "ASIDE"), ("create", "web"), ("start", "NEW")]


@pytest.mark.parametrize(
    ("failing", "behaviour", "reason", "calls"),
    [
        ("stop", "healthy", "the engine refused", [("stop", "OLD")]),
        (
            "rename",
            "healthy",
            "the engine refused",
            [("stop", "OLD"), ("rename", "OLD", "ASIDE"), ("start", "OLD")],
        ),
        (
            "create",
            "healthy",
            "the engine refused",
            [*SWAP[:3], ("rename", "OLD", "web"), ("start", "OLD")],
        ),
        ("start", "healthy", "the engine refused", [*SWAP, *UNDO_NEW]),
        (None, "unhealthy", "the new container is unhealthy", [*SWAP, *UNDO_NEW]),
        (None, "starting", "not healthy within 0.3s", [*SWAP, *UNDO_NEW]),
        (None, "exits", "the new container stopped (exit code 1)", [*SWAP, *UNDO_NEW]),
    ],
)
def test_a_failed_step_is_rolled_back(
    engine, journal, failing: str | None, behaviour: Behaviour, reason: str, calls: list
):
    old_id, new_image = outdated(engine, healthcheck=True, behaviour=behaviour)
    if failing:
        engine.fail(failing)
    result = updater(engine, journal).replace("web", old_id, new_image, REF)
    assert result.result == "rolled_back"
    assert reason in result.reason
    assert roles(engine, old_id) == calls
    assert_old_one_back(engine, journal, old_id)
    if failing is None:  # the new container ran: its last lines are kept for the report
        assert result.new_logs == ["starting", "something went wrong"]


def test_nothing_changes_when_the_new_image_cannot_be_read(engine, journal):
    old_id, new_image = outdated(engine)
    engine.fail("inspect_image", times=2)
    result = updater(engine, journal).replace("web", old_id, new_image, REF)
    assert result.result == "failed" and result.reason.startswith("nothing changed")
    assert engine.changes() == []
    assert_old_one_back(engine, journal, old_id)


def test_a_failed_rollback_is_left_journalled_then_recovered(engine, journal):
    old_id, new_image = outdated(engine)
    # The new container does not start, nor then the old one (an error not worth retrying).
    engine.fail("start", DockerException("the engine went away"), times=2)
    result = updater(engine, journal).replace("web", old_id, new_image, REF)
    assert result.result == "failed"
    assert "the rollback failed too: the engine went away" in result.reason
    assert "watch-docker recover" in result.reason
    [entry] = journal.entries()
    assert entry.given_up and entry.name == "web"
    web = engine.named("web")
    assert web is not None and web["Id"] == old_id and not web["State"]["Running"]

    engine.calls.clear()
    [recovered] = updater(engine, journal).recover()
    assert (recovered.name, recovered.outcome) == ("web", "rolled_back")
    assert roles(engine, old_id) == [("start", "OLD")]
    assert_old_one_back(engine, journal, old_id)


def test_a_rollback_retries_the_old_container_for_its_window_then_gives_up(engine, journal):
    old_id, new_image = outdated(engine)
    # The port stays taken: the new container does not start, nor does the old one, ever.
    engine.fail("start", APIError("address already in use"), times=1000)
    short = Updater(engine, journal, HEALTH, rollback_restart_window=1.2)  # type: ignore[arg-type]
    started = time.monotonic()
    result = short.replace("web", old_id, new_image, REF)
    took = time.monotonic() - started
    assert result.result == "failed" and "watch-docker recover" in result.reason
    tries = [call for call in roles(engine, old_id) if call == ("start", "OLD")]
    assert len(tries) >= 2  # retried (0.5 s, then 1 s apart), not given up at once
    assert 1.2 <= took < 10  # the window set, not the default 2 minutes


def test_a_rollback_starts_the_old_container_once_it_can(engine, journal):
    old_id, new_image = outdated(engine)
    # The new container's start and the old one's first two fail; the third try starts it.
    engine.fail("start", APIError("address already in use"), times=3)
    result = updater(engine, journal).replace("web", old_id, new_image, REF)
    assert result.result == "rolled_back"
    assert [call for call in roles(engine, old_id) if call[0] == "start"] == [
        ("start", "NEW"), ("start", "OLD"), ("start", "OLD"), ("start", "OLD"),
    ]  # fmt: skip
    assert_old_one_back(engine, journal, old_id)


@pytest.mark.parametrize("step", get_args(Step))
def test_killed_after_each_step_then_recovered(engine, journal, step: Step):
    old_id, new_image = outdated(engine, healthcheck=True)

    def die_at(reached: Step) -> None:
        if reached == step:
            raise Killed

    with pytest.raises(Killed):
        updater(engine, journal, die_at).replace("web", old_id, new_image, REF)
    # A dead process's entry: what recovery takes on (as it does one given up).
    [entry] = journal.entries()
    journal.advance(entry, entry.step, given_up=True)

    [recovered] = updater(engine, journal).recover()
    web = engine.named("web")
    assert web is not None and web["State"]["Running"] and engine.names() == ["web"]
    if step == "healthy":
        assert recovered.outcome == "finished" and web["Image"] == new_image
        assert journal.entries() == []
    else:
        assert recovered.outcome == "rolled_back"
        assert_old_one_back(engine, journal, old_id)


def test_a_container_joined_to_its_network_follows_it(engine, journal):
    old_id, new_image = outdated(engine)
    side_ref = "registry.test/team/side:latest"
    side_image = engine.add_image(side_ref)
    side_id = engine.run("side", side_ref, network_mode=f"container:{old_id}")
    result = updater(engine, journal).replace("web", old_id, new_image, REF)
    [joined] = result.dependents
    assert (result.result, joined.result) == ("updated", "updated")
    side = engine.named("side")
    assert side is not None and side["Id"] not in (side_id, joined.name)
    assert side["Image"] == side_image and side["State"]["Running"]
    assert side["HostConfig"]["NetworkMode"] == f"container:{result.new_id}"
    assert engine.names() == ["side", "web"] and journal.entries() == []


def test_an_old_container_that_cannot_be_removed_is_left_to_recovery(engine, journal):
    old_id, new_image = outdated(engine)
    engine.fail("remove_container")
    result = updater(engine, journal).replace("web", old_id, new_image, REF)
    assert result.result == "updated"
    assert f"left as {aside_name('web', old_id)}" in result.reason
    assert engine.names() == sorted(["web", aside_name("web", old_id)])
    [entry] = journal.entries()
    assert entry.given_up and entry.step == "healthy"  # not locked while this process lives

    [recovered] = updater(engine, journal).recover()
    assert recovered.outcome == "finished"
    web = engine.named("web")
    assert web is not None and web["Image"] == new_image and web["State"]["Running"]
    assert engine.names() == ["web"] and journal.entries() == []
