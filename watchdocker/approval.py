"""Approval gates: which runs need a person, what they are shown, and how an answer is judged.
Plain functions; the pause and the form are in flows/approval.py."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import SecretStr

from watchdocker.auth.lockout import clock_time
from watchdocker.auth.totp import WRONG_CODE, TotpError, verify_code
from watchdocker.digests import short_digest
from watchdocker.update.plan import PlannedUpdate, UpdateResult, results_for

APPROVAL_LABEL = "watchdocker.approval"
# Called with (flow run id, attempt) as a run starts to wait: `watch-docker update` in a
# terminal prompts there, while the UI and `watch-docker approve` can answer too.
WAITING_HOOKS: list[Callable[[str, int], None]] = []


def needs_approval(planned: Sequence[PlannedUpdate], configured: str, requested: bool) -> bool:
    """`update.approval: totp`, `--require-approval`, or a container labelled
    `watchdocker.approval=totp` among those to update."""
    if not planned:
        return False
    labelled = any(p.labels.get(APPROVAL_LABEL) == "totp" for p in planned)
    return configured == "totp" or requested or labelled


# The flows that wait for approval, and what Prefect's server says of a run it failed because
# its pause or suspension timed out ("The flow was paused and never resumed.").
APPROVAL_FLOWS = ("update", "auto-update")
_NEVER_RESUMED = "and never resumed"


def no_answer(timeout_seconds: int) -> str:
    """Why a run that waited in vain was rejected."""
    return f"no answer within {timeout_seconds}s"


def approval_expired(state_type: str | None, message: str | None) -> bool:
    """Of a run of an approval flow: the server failed it when its wait timed out. Its own
    code never ran again (a suspended run holds no process), so it told nobody."""
    return state_type == "FAILED" and _NEVER_RESUMED in (message or "")


def plan_table(planned: Sequence[PlannedUpdate]) -> list[dict[str, str]]:
    """The plan artifact's rows, full digests; `watch-docker approvals` reads the containers."""
    return [
        {
            "container": p.name,
            "image": p.image,
            "current": p.local_digest or "",
            "new": p.remote_digest,
        }
        for p in planned
    ]


def plan_markdown(planned: Sequence[PlannedUpdate]) -> str:
    lines = [
        "**watch-docker asks for approval to update:**",
        "",
        "| container | image | current | new |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {p.name} | {p.image} | {short_digest(p.local_digest) or '?'} "
        f"| {short_digest(p.remote_digest) or '?'} |"
        for p in planned
    ]
    lines += [
        "",
        "Enter your name as approver and the 6-digit code of your authenticator; untick "
        "Approve to reject (a rejection needs your code too).",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Answer:
    approver: str
    code: str
    approve: bool
    containers: list[str] | None = None


@dataclass(frozen=True)
class Verdict:
    outcome: Literal["approved", "rejected", "wrong_code", "locked"]
    reason: str
    step: int | None = None  # the TOTP step an accepted code used
    guessed: bool = False  # a wrong code of an enrolled approver: counts towards their lockout

    @property
    def refused(self) -> bool:
        """The answer decided nothing: it costs the run one of its attempts."""
        return self.outcome in ("wrong_code", "locked")


def judge_answer(
    answer: Answer,
    secrets: Mapping[str, SecretStr],
    last_step: Callable[[str], int | None],
    locked_until: Callable[[str], float | None] = lambda _: None,
    at: float | None = None,
) -> Verdict:
    """An approval and a rejection alike need an enrolled approver who is not locked out and
    their current, unused code: otherwise anyone who reaches the form could reject updates."""
    who = answer.approver.strip()
    secret = secrets.get(who)
    if secret is None:
        return Verdict("wrong_code", f"{who!r} is not an approver")
    try:
        until = locked_until(who)
        if until is not None:
            return Verdict(
                "locked", f"{who} is locked after too many wrong codes until {clock_time(until)}"
            )
        step = verify_code(secret.get_secret_value(), answer.code.strip(), last_step(who), at=at)
    except TotpError as exc:
        # A replayed code is a real one (typed twice, or raced): no guess to count.
        return Verdict("wrong_code", f"{exc} for {who}", guessed=str(exc) == WRONG_CODE)
    if not answer.approve:
        return Verdict("rejected", f"rejected by {who}", step)
    return Verdict("approved", f"approved by {who}", step)


def answer_record(attempt: int, answer: Answer, verdict: Verdict, at: float) -> dict[str, str]:
    """One row of the answers artifact: what was answered and what became of it."""
    return {
        "attempt": str(attempt),
        "approver": answer.approver,
        "outcome": verdict.outcome,
        "reason": verdict.reason,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
    }


def with_attempts_left(verdict: Verdict, left: int) -> Verdict:
    """A refused answer says how many attempts the run has left; the answer to the last one
    says what became of the run."""
    if not verdict.refused:
        return verdict
    if left == 0:
        told = "that was the last attempt: the update run is rejected"
    else:
        told = f"{left} attempt{'s' if left > 1 else ''} left"
    return replace(verdict, reason=f"{verdict.reason}; {told}")


def chosen(planned: Sequence[PlannedUpdate], answer: Answer) -> list[PlannedUpdate]:
    """The approved subset: the containers named in the answer, or all when it names none."""
    if not answer.containers:
        return list(planned)
    wanted = set(answer.containers)
    return [p for p in planned if p.name in wanted]


@dataclass
class ApprovalDecision:
    approved: bool
    reason: str
    planned: list[PlannedUpdate] = field(default_factory=list)  # approved: these


def decided(
    verdict: Verdict, planned: Sequence[PlannedUpdate], answer: Answer
) -> ApprovalDecision | None:
    """What an answer decided for the run; None when it decided nothing (wait again)."""
    if verdict.outcome == "approved":
        return ApprovalDecision(True, verdict.reason, chosen(planned, answer))
    if verdict.outcome == "rejected":
        return ApprovalDecision(False, verdict.reason)
    return None


def split_by_decision(
    ready: Sequence[PlannedUpdate], decision: ApprovalDecision
) -> tuple[set[str], list[UpdateResult]]:
    """The names of the containers to update, and the skipped results of the others: all of
    them when the run was not approved, else those the approver left out."""
    if not decision.approved:
        return set(), results_for(ready, "skipped", f"not approved: {decision.reason}")
    approved = {p.name for p in decision.planned}
    left_out = [p for p in ready if p.name not in approved]
    return approved, results_for(left_out, "skipped", f"not among the containers {decision.reason}")
