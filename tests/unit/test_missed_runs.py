"""Runs missed while nobody served: only the newest of them runs
(watchdocker.missed_runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from watchdocker.missed_runs import ScheduledRun, runs_to_skip

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def run(minutes_ago: float, auto: bool = True) -> ScheduledRun:
    return ScheduledRun(uuid4(), NOW - timedelta(minutes=minutes_ago), auto)


def test_all_missed_runs_but_the_newest_are_skipped():
    old, older, newest = run(10), run(20), run(5)
    assert set(runs_to_skip([old, older, newest], NOW)) == {old.id, older.id}


def test_runs_still_due_soon_or_just_due_are_left_to_a_live_runner():
    future, just_due = run(-5), run(0.5)
    assert runs_to_skip([future, just_due], NOW) == []


def test_runs_created_by_hand_always_run():
    by_hand, missed, newest = run(30, auto=False), run(20), run(10)
    assert runs_to_skip([by_hand, missed, newest], NOW) == [missed.id]


def test_nothing_missed_nothing_skipped():
    assert runs_to_skip([], NOW) == []
    assert runs_to_skip([run(10)], NOW) == []
