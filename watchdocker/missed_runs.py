"""Scheduled runs that came due while no `watch-docker serve` was serving them.

`serve` leaves its deployments' schedules active when it stops (another serve on the same
server may rely on them), so the server keeps scheduling runs that nobody starts; Prefect marks
them Late, and the next Runner would start every one of them at once. On start, serve runs only
the newest of them and skips the rest: one catch-up run, not a flood."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

# Older than this and still not started: nobody was serving it. A live Runner takes runs 10 s
# before they are due; Prefect itself calls a run Late 15 s after.
MISSED_AFTER = timedelta(seconds=15)


@dataclass(frozen=True)
class ScheduledRun:
    id: UUID
    expected_start: datetime
    auto_scheduled: bool


def runs_to_skip(
    scheduled: list[ScheduledRun], now: datetime, missed_after: timedelta = MISSED_AFTER
) -> list[UUID]:
    """Of one deployment's runs still in a Scheduled state: the missed ones the schedule made,
    except the newest. Runs someone created by hand are asked for and always run."""
    missed = sorted(
        (r for r in scheduled if r.auto_scheduled and r.expected_start < now - missed_after),
        key=lambda r: r.expected_start,
    )
    return [r.id for r in missed[:-1]]
