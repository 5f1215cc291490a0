"""What the latest update runs did to each container, kept under the state directory so that
serve's API (the status stream) learns of updates and rollbacks made in the Runner's
subprocesses or by the CLI: every run appends its results (locked, replaced atomically), each
with a sequence number a reader compares with the last it saw."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from watchdocker.state_lock import change_model, read_model

KEPT = 200  # the newest outcomes kept: a reader that looks every second misses none
STREAMED_RESULTS = ("updated", "rolled_back")  # what the status stream tells


class Outcome(BaseModel):
    seq: int
    at: float  # epoch seconds
    name: str
    result: str
    reason: str = ""


class Outcomes(BaseModel):
    seq: int = 0  # the last sequence number given
    outcomes: list[Outcome] = Field(default_factory=list)


def outcomes_path(state_dir: Path) -> Path:
    return state_dir / "runs" / "outcomes.json"


def read_outcomes(state_dir: Path) -> Outcomes:
    return read_model(outcomes_path(state_dir), Outcomes) or Outcomes()


def record_outcomes(state_dir: Path, results: Iterable[tuple[str, str, str]], when: float) -> None:
    """Appends each (container name, result, reason) of one run."""

    def append(before: Outcomes | None) -> Outcomes:
        kept = before or Outcomes()
        for name, result, reason in results:
            kept.seq += 1
            kept.outcomes.append(
                Outcome(seq=kept.seq, at=when, name=name, result=result, reason=reason)
            )
        kept.outcomes = kept.outcomes[-KEPT:]
        return kept

    change_model(outcomes_path(state_dir), Outcomes, append)


def streamed_since(kept: Outcomes, seq: int) -> list[Outcome]:
    """The outcomes after `seq` that the status stream tells, oldest first."""
    return [o for o in kept.outcomes if o.seq > seq and o.result in STREAMED_RESULTS]
