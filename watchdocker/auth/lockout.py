"""Approver lockout: wrong codes are counted per approver across runs, so that starting more
update runs buys no more guesses. After `attempts` wrong codes within `period` the approver is
locked for `period`; while locked even their right code is refused.

Pure: the clock is a parameter and the record is a value; where it is kept (a Prefect Variable
shared by every process on the server) is `watchdocker.blocks.totp`'s business.

A suspended update run starts again from the top once answered and judges its earlier answers
again, each at the time it was submitted: counting is idempotent on that time, and the answer
that locked an approver is not itself judged locked."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


class LockoutRecordError(ValueError):
    """A stored record that is not one (edited by hand): callers refuse codes until fixed."""


@dataclass(frozen=True)
class WrongCodes:
    """An approver's latest wrong codes (epoch seconds, oldest first) and their lock, if any."""

    at: tuple[float, ...] = ()
    locked_since: float | None = None
    locked_until: float | None = None

    def lock_end(self, now: float) -> float | None:
        """When the lock ends, if the approver is locked at `now` (after the code that locked
        them, which was judged before the lock)."""
        if self.locked_since is None or self.locked_until is None:
            return None
        return self.locked_until if self.locked_since < now < self.locked_until else None

    def to_json(self) -> dict[str, Any]:
        return {
            "wrong_codes_at": list(self.at),
            "locked_since": self.locked_since,
            "locked_until": self.locked_until,
        }

    @classmethod
    def from_json(cls, value: object) -> WrongCodes:
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise LockoutRecordError("does not hold wrong codes")
        try:
            at = tuple(sorted(float(t) for t in value.get("wrong_codes_at") or []))
            since, until = value.get("locked_since"), value.get("locked_until")
            return cls(
                at,
                None if since is None else float(since),
                None if until is None else float(until),
            )
        except (TypeError, ValueError):
            raise LockoutRecordError("does not hold wrong codes") from None


def count_wrong_code(record: WrongCodes, now: float, attempts: int, period: float) -> WrongCodes:
    """`record` after a wrong code at `now` (unchanged when that one is counted already). The
    `attempts`-th within `period` locks the approver from `now` to `now + period`. Only the
    latest `attempts` codes are kept: no more can fall within one window."""
    if now in record.at:
        return record
    kept = tuple(sorted((*record.at, now)))[-attempts:]
    in_window = [t for t in kept if now - period < t <= now]
    if len(in_window) >= attempts and record.lock_end(now) is None:
        return WrongCodes(kept, now, now + period)
    return WrongCodes(kept, record.locked_since, record.locked_until)


def clock_time(epoch: float) -> str:
    """`epoch` as people read it in a message: `2026-12-02 01:15:00 UTC`."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def locked_message(approver: str, attempts: int, period: float, until: float) -> str:
    """What the log and the notification say when wrong codes lock an approver."""
    return (
        f"{approver} gave {attempts} wrong codes within {period:g}s: locked until "
        f"{clock_time(until)}; until then even their right code is refused."
    )
