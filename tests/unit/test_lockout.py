"""The approver lockout rule, with the clock given: wrong codes per approver over time."""

from __future__ import annotations

import pytest

from watchdocker.auth.lockout import (
    LockoutRecordError,
    WrongCodes,
    clock_time,
    count_wrong_code,
    locked_message,
)

T0 = 1_800_000_000.0
PERIOD = 900.0


def after(times: list[float], attempts: int = 3, record: WrongCodes | None = None) -> WrongCodes:
    record = record or WrongCodes()
    for at in times:
        record = count_wrong_code(record, at, attempts, PERIOD)
    return record


def test_the_nth_wrong_code_within_the_period_locks_for_the_period():
    record = after([T0, T0 + 10])
    assert record.lock_end(T0 + 11) is None
    record = after([T0 + 20], record=record)
    assert (record.locked_since, record.locked_until) == (T0 + 20, T0 + 20 + PERIOD)
    assert record.lock_end(T0 + 21) == T0 + 20 + PERIOD
    assert record.lock_end(T0 + 20 + PERIOD) is None  # over
    assert record.lock_end(T0 + 19) is None  # before it


def test_codes_older_than_the_period_no_longer_count():
    record = after([T0, T0 + 10, T0 + 10 + PERIOD + 1, T0 + 20 + PERIOD])
    assert record.locked_until is None  # T0 and T0 + 10 are out of the window by then
    assert after([T0 + 30 + PERIOD], record=record).locked_until == T0 + 30 + 2 * PERIOD


def test_the_code_that_locked_is_not_judged_locked():
    # A suspended run judges its answers again, each at the time it was submitted.
    record = after([T0, T0 + 1, T0 + 2])
    assert record.lock_end(T0 + 2) is None
    assert record.lock_end(T0 + 2.001) == T0 + 2 + PERIOD


def test_counting_is_idempotent_on_the_submission_time():
    record = after([T0, T0 + 1])
    assert after([T0, T0 + 1, T0], record=record) == record
    locked = after([T0 + 2], record=record)
    assert after([T0 + 2, T0 + 1], record=locked) == locked


def test_a_lock_is_not_extended_while_it_lasts():
    locked = after([T0, T0 + 1, T0 + 2])
    later = after([T0 + 3, T0 + 4, T0 + 5], record=locked)
    assert (later.locked_since, later.locked_until) == (T0 + 2, T0 + 2 + PERIOD)


def test_only_the_latest_codes_are_kept():
    record = after([T0 + n for n in range(10)], attempts=100)
    assert len(record.at) == 10
    assert len(after([T0 + n for n in range(10)], attempts=4).at) == 4


@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_attempts_is_the_number_that_locks(attempts: int):
    times = [T0 + n for n in range(attempts)]
    assert after(times[:-1], attempts).locked_until is None
    assert after(times, attempts).locked_until == times[-1] + PERIOD


def test_json_round_trip_and_hand_edited_values():
    record = after([T0, T0 + 1, T0 + 2])
    assert WrongCodes.from_json(record.to_json()) == record
    assert WrongCodes.from_json(None) == WrongCodes()
    for bad in ("x", [1], {"wrong_codes_at": ["soon"]}, {"locked_until": "never"}):
        with pytest.raises(LockoutRecordError):
            WrongCodes.from_json(bad)


def test_clock_time_is_utc():
    assert clock_time(T0) == "2027-01-15 08:00:00 UTC"


def test_the_lock_is_told_with_its_end_in_utc():
    assert locked_message("alice", 3, 600.0, 1_800_000_600.0) == (
        "alice gave 3 wrong codes within 600s: locked until 2027-01-15 08:10:00 UTC; "
        "until then even their right code is refused."
    )
