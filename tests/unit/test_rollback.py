"""The recovery journal and the plans that finish or undo an interrupted update."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from watchdocker.update.journal import (
    Journal,
    UpdateInProgress,
    aside_name,
    aside_service,
    has_entries,
    new_entry,
)
from watchdocker.update.rollback import (
    Action,
    Observed,
    finish_plan,
    orphan_entry,
    recovery_plan,
    rollback_plan,
)

OLD, NEW = "a" * 64, "b" * 64


def entry(step="begun", old_running=True, new_id=None):
    made = new_entry("web", OLD, old_running, "registry.local/web:latest", "sha256:" + "c" * 64)
    return made.model_copy(update={"step": step, "new_id": new_id})


ASIDE = entry().aside_name

# (journalled step, what the engine shows) -> actions: every state a kill can leave behind.
ROLLBACK_CASES = [
    ("begun: nothing touched", entry(), Observed("web", True, None, False), []),
    (
        "stopping: old stopped, not renamed",
        entry("stopping"),
        Observed("web", False, None, False),
        [Action("start", OLD)],
    ),
    (
        "renamed: old aside",
        entry("renamed"),
        Observed(ASIDE, False, None, False),
        [Action("rename", OLD, "web"), Action("start", OLD)],
    ),
    (
        "created but id not journalled",
        entry("renamed"),
        Observed(ASIDE, False, NEW, False),
        [Action("remove", NEW), Action("rename", OLD, "web"), Action("start", OLD)],
    ),
    (
        "started, health unknown",
        entry("starting", new_id=NEW),
        Observed(ASIDE, False, NEW, True),
        [Action("remove", NEW), Action("rename", OLD, "web"), Action("start", OLD)],
    ),
    (
        "old was stopped before: stays stopped",
        entry("renamed", old_running=False),
        Observed(ASIDE, False, None, False),
        [Action("rename", OLD, "web")],
    ),
]


@pytest.mark.parametrize(
    ("case", "journalled", "seen", "expected"), ROLLBACK_CASES, ids=[c[0] for c in ROLLBACK_CASES]
)
def test_rollback_plan(case, journalled, seen, expected):
    assert rollback_plan(journalled, seen) == expected
    outcome, actions = recovery_plan(journalled, seen)
    assert (outcome, actions) == ("rolled_back", expected)


def test_a_healthy_update_is_finished_not_undone():
    seen = Observed(ASIDE, False, NEW, True)
    outcome, actions = recovery_plan(entry("healthy", new_id=NEW), seen)
    assert outcome == "finished" and actions == [Action("remove", OLD)]


def test_finishing_starts_a_stopped_new_container_and_stops_a_running_old_one():
    seen = Observed(ASIDE, True, NEW, False)
    assert finish_plan(entry("healthy", new_id=NEW), seen) == [
        Action("start", NEW),
        Action("stop", OLD),
        Action("remove", OLD),
    ]


def test_a_stopped_service_stays_stopped_when_finished():
    seen = Observed(ASIDE, False, NEW, False)
    outcome, actions = recovery_plan(entry("healthy", old_running=False, new_id=NEW), seen)
    assert outcome == "finished" and actions == [Action("remove", OLD)]


def test_with_the_old_container_gone_the_new_one_is_kept():
    outcome, actions = recovery_plan(
        entry("starting", new_id=NEW), Observed(None, False, NEW, False)
    )
    assert outcome == "finished" and actions == [Action("start", NEW)]


def test_journal_entries_survive_and_lock(tmp_path: Path):
    journal = Journal(tmp_path)
    first = journal.begin(entry())
    with pytest.raises(UpdateInProgress, match="process"):
        journal.begin(entry())
    moved = journal.advance(first, "renamed")
    assert Journal(tmp_path).read("web") == moved  # a new process reads what was written
    assert journal.abandoned() == []  # this process is alive
    journal.finish(moved)
    assert journal.read("web") is None and journal.entries() == []


def test_entries_of_a_dead_process_are_abandoned(tmp_path: Path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    journal = Journal(tmp_path)
    journal.begin(entry().model_copy(update={"pid": int(dead.stdout)}))
    assert [e.name for e in journal.abandoned()] == ["web"]
    assert os.getpid() != int(dead.stdout)


def test_a_torn_first_write_is_dropped_and_does_not_lock(tmp_path: Path):
    (tmp_path / "web.json").write_text('{"name": "web", "old_')
    journal = Journal(tmp_path)
    assert journal.entries() == []
    journal.begin(entry())  # the container is not locked by the torn write


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_the_lock_says_who_holds_it(tmp_path: Path):
    journal = Journal(tmp_path)
    journal.begin(entry())
    with pytest.raises(UpdateInProgress) as live:
        journal.begin(entry())
    assert str(live.value) == (
        f"an update of web by process {os.getpid()} on {entry().host} is in progress (step begun)"
    )
    journal.finish(entry())
    journal.begin(entry().model_copy(update={"pid": _dead_pid()}))
    with pytest.raises(UpdateInProgress, match="interrupted update of web awaits `watch-docker"):
        journal.begin(entry())


def test_in_progress_names_each_locked_service_and_its_holder(tmp_path: Path):
    journal = Journal(tmp_path)
    assert journal.in_progress() == {}
    journal.begin(entry())
    journal.begin(entry().model_copy(update={"name": "db", "pid": _dead_pid()}))
    assert journal.in_progress() == {
        "db": "an interrupted update of db awaits `watch-docker recover`",
        "web": f"an update of web by process {os.getpid()} on {entry().host} is in progress "
        "(step begun)",
    }


def test_an_entry_given_up_is_recovered_by_the_next_run_even_while_its_process_lives(
    tmp_path: Path,
):
    journal = Journal(tmp_path)
    begun = journal.begin(entry())
    assert journal.abandoned() == []
    given_up = journal.advance(begun, "created", given_up=True)
    assert journal.abandoned() == [given_up]


def test_aside_names_name_their_service():
    name = aside_name("shop-web-1", OLD)
    assert name == "shop-web-1-watchdocker-old-aaaaaaaaaaaa"
    assert aside_service(name) == "shop-web-1"
    for service in (
        "web",
        "web-watchdocker-old",
        "web-watchdocker-old-xyz",
        "web-watchdocker-old-" + "a" * 13,
    ):
        assert aside_service(service) is None


def test_an_empty_journal_is_seen_without_the_engine(tmp_path: Path):
    root = tmp_path / "journal"
    assert not has_entries(root)  # not even created yet
    journal = Journal(root / "engine-1")
    assert not has_entries(root)
    journal.begin(entry())
    assert has_entries(root)


# An aside container no entry speaks of (two runs raced on one container before the lock was
# keyed on the service): resolved through the plans above, like an interrupted update.
def test_an_orphan_beside_its_service_is_removed_and_the_service_left_alone():
    orphan = orphan_entry("web", OLD, NEW, keep_old=False)
    assert orphan is not None and orphan.aside_name == ASIDE
    for service_running in (True, False):
        seen = Observed(ASIDE, False, NEW, service_running)
        assert recovery_plan(orphan, seen) == ("finished", [Action("remove", OLD)])
    running_aside = Observed(ASIDE, True, NEW, True)
    assert recovery_plan(orphan, running_aside) == (
        "finished",
        [Action("stop", OLD), Action("remove", OLD)],
    )


def test_an_orphan_whose_service_has_no_container_gets_the_name_back_and_runs():
    for keep_old in (False, True):  # a kept old container too: never no service
        orphan = orphan_entry("web", OLD, None, keep_old=keep_old)
        assert orphan is not None
        assert recovery_plan(orphan, Observed(ASIDE, False, None, False)) == (
            "rolled_back",
            [Action("rename", OLD, "web"), Action("start", OLD)],
        )


def test_an_aside_kept_by_remove_old_false_is_left_where_the_service_runs():
    assert orphan_entry("web", OLD, NEW, keep_old=True) is None
