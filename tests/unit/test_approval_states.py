"""Where a run's verdict leaves it, as `answer_approval` waits for it before answering: a
refused answer leaves the run to pause again (or, after its last attempt, to end); any other
verdict is final at once."""

from __future__ import annotations

import pytest
from prefect.client.schemas.objects import StateType

from watchdocker.flows.approval import PAUSE_KEY_PREFIX, verdict_settled

WAITING = (StateType.PAUSED, f"{PAUSE_KEY_PREFIX}2")


@pytest.mark.parametrize(
    ("outcome", "state", "settled"),
    [
        ("wrong_code", (StateType.RUNNING, None), False),  # judged, not paused again yet
        ("wrong_code", WAITING, True),
        ("locked", (StateType.RUNNING, None), False),
        ("locked", WAITING, True),
        ("wrong_code", (StateType.COMPLETED, None), True),  # the last attempt: the run ended
        ("wrong_code", (StateType.CRASHED, None), True),
        ("wrong_code", (StateType.PAUSED, "someone-else"), False),  # not an approval's pause
        ("approved", (StateType.RUNNING, None), True),
        ("rejected", (StateType.RUNNING, None), True),
    ],
)
def test_a_refused_answer_settles_when_the_run_waits_again_or_ends(
    outcome: str, state: tuple[StateType, str | None], settled: bool
) -> None:
    assert verdict_settled(outcome, *state) is settled
