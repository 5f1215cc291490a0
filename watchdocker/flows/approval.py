"""The approval gate of an update run: the run pauses with a form (the Prefect UI renders it;
`watch-docker approve` answers it) until an approver's TOTP code approves or rejects it, too many
wrong codes, or the timeout. Wrong codes also count against the approver across runs
(`WrongCodeLedger`). Holds no update slot while it waits."""

from __future__ import annotations

import time
from functools import partial
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import TERMINAL_STATES, StateType
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.runtime import deployment, flow_run
from prefect.states import Running
from pydantic import Field

from watchdocker.approval import (
    WAITING_HOOKS,
    Answer,
    ApprovalDecision,
    Verdict,
    answer_record,
    decided,
    judge_answer,
    no_answer,
    plan_markdown,
    plan_table,
    with_attempts_left,
)
from watchdocker.auth.lockout import locked_message
from watchdocker.auth.totp import TotpError
from watchdocker.blocks.notifier import configured_notifier
from watchdocker.blocks.totp import ReplayGuard, WrongCodeLedger, approver_secrets
from watchdocker.config import Settings
from watchdocker.notify import Level, Message, approval_verdict
from watchdocker.update.plan import PlannedUpdate

PLAN_ARTIFACT = "watchdocker-approval-plan"
ANSWERS_ARTIFACT = "watchdocker-approval"
PAUSE_KEY_PREFIX = "approval-"
POLL_SECONDS = 2


class ApprovalForm(RunInput):
    """What an approver fills in (the Prefect UI's form for the paused run)."""

    approver: str = Field(default="", title="Approver", description="your name, as enrolled")
    code: str = Field(
        default="", title="Code", description="the 6-digit code of your authenticator"
    )
    approve: bool = Field(
        default=True, title="Approve", description="untick to reject (with your code too)"
    )
    containers: list[str] = Field(
        default_factory=list, title="Containers", description="only these (empty: all listed)"
    )


def _tell(settings: Settings, title: str, body: str, level: Level) -> None:
    configured_notifier(settings, get_run_logger()).send(Message(title, body, level))


def _resume_running() -> None:
    # A pause that timed out leaves the run paused: take it back to finish (nothing changed).
    run_id = flow_run.get_id()
    if run_id:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run_id, Running(), force=True)


def _wait_for_answer(
    form: type[ApprovalForm], timeout: int, key: str
) -> tuple[ApprovalForm, float | None]:
    """The answer, and when the server received it. A run of a deployment (served, or on a
    worker) is suspended: it holds no process, so a restart of `serve` loses nothing, and it
    starts again from the top once answered (earlier answers are then replayed at once). A run
    without a deployment (the CLI's) waits in place."""
    if not deployment.get_id():
        return pause_flow_run(
            wait_for_input=form, timeout=timeout, poll_interval=POLL_SECONDS, key=key
        ), None
    given = suspend_flow_run(wait_for_input=form, timeout=timeout, key=key)
    return given, _submitted_at(key)


def _answered_before() -> bool:
    """True in a suspended run started again after an answer: it was announced already."""
    run_id = flow_run.get_id()
    if not run_id or not deployment.get_id():
        return False
    with get_client(sync_client=True) as client:
        return bool(
            client.filter_flow_run_input(
                UUID(run_id),
                key_prefix=f"suspended-{PAUSE_KEY_PREFIX}",
                limit=1,
                exclude_keys=set(),
            )
        )


def _submitted_at(key: str) -> float | None:
    # The code is judged as of its submission, not of this later re-run: a resumed run may
    # start tens of seconds after the approver typed it.
    run_id = flow_run.get_id()
    if not run_id:
        return None
    with get_client(sync_client=True) as client:
        found = client.filter_flow_run_input(
            UUID(run_id), key_prefix=f"suspended-{key}-response", limit=1, exclude_keys=set()
        )
    return found[0].created.timestamp() if found and found[0].created else None


def _count_wrong_code(
    settings: Settings, ledger: WrongCodeLedger, approver: str, now: float, url: str
) -> None:
    """Count it against the approver; when that locks them, say so in the log and notify."""
    until = ledger.count(approver, now)
    if until is None:
        return
    message = f"{locked_message(approver, ledger.attempts, ledger.period, until)} {url}"
    get_run_logger().warning(message)
    _tell(settings, "watch-docker: approver locked", message, "warning")


def request_approval(planned: list[PlannedUpdate], settings: Settings) -> ApprovalDecision:
    logger = get_run_logger()
    secrets = approver_secrets(settings)
    if not secrets:
        return ApprovalDecision(
            False, "approval is required but no approver is enrolled (watch-docker totp enroll)"
        )
    url = flow_run.get_flow_run_ui_url() or ""
    create_table_artifact(
        table=plan_table(planned), key=PLAN_ARTIFACT, description="waiting for approval"
    )
    names = ", ".join(p.name for p in planned)
    if not _answered_before():
        _tell(
            settings,
            "watch-docker: approval needed",
            f"Update of {names} waits for approval: {url}",
            "warning",
        )
    guard = ReplayGuard()
    ledger = WrongCodeLedger.from_settings(settings)
    answers: list[dict[str, str]] = []
    attempts = settings.approval.max_attempts
    timeout = int(settings.approval.timeout.total_seconds())
    decision = ApprovalDecision(False, f"{attempts} wrong codes")
    for attempt in range(1, attempts + 1):
        form = ApprovalForm.with_initial_data(description=plan_markdown(planned))
        for hook in WAITING_HOOKS:
            hook(str(flow_run.get_id()), attempt)
        try:
            given, submitted_at = _wait_for_answer(form, timeout, f"{PAUSE_KEY_PREFIX}{attempt}")
        except FlowPauseTimeout:
            _resume_running()
            decision = ApprovalDecision(False, no_answer(timeout))
            break
        answer = Answer(given.approver, given.code, given.approve, given.containers or None)
        who = answer.approver.strip()
        now = submitted_at or time.time()
        locked_until = partial(ledger.locked_until, now=now)
        verdict = judge_answer(answer, secrets, guard.last_step, locked_until, at=now)
        if verdict.step is not None:
            try:
                guard.record(who, verdict.step)
            except TotpError as exc:  # another run took the same code a moment before
                verdict = Verdict("wrong_code", f"{exc} for {who}")
        if verdict.guessed:
            _count_wrong_code(settings, ledger, who, now, url)
        verdict = with_attempts_left(verdict, attempts - attempt)
        answers.append(answer_record(attempt, answer, verdict, time.time()))
        create_table_artifact(
            table=answers, key=ANSWERS_ARTIFACT, description=f"approval: {verdict.outcome}"
        )
        if (answered := decided(verdict, planned, answer)) is not None:
            decision = answered
            if decision.approved:
                names_approved = ", ".join(p.name for p in decision.planned)
                logger.info("update %s (containers: %s)", decision.reason, names_approved)
            break
        logger.warning("%s (attempt %d of %d)", verdict.reason, attempt, attempts)
    verdict_message = approval_verdict(decision.approved, decision.reason, names, url)
    configured_notifier(settings, get_run_logger()).send(verdict_message)
    return decision


def is_waiting_for_approval(state_type: StateType | None, pause_key: str | None) -> bool:
    return state_type == StateType.PAUSED and (pause_key or "").startswith(PAUSE_KEY_PREFIX)


def verdict_settled(outcome: str, state_type: StateType | None, pause_key: str | None) -> bool:
    """Whether a run that gave a verdict is where the next answer finds it. A refused answer (a
    wrong code, a locked approver) is written before the run pauses again for its next attempt,
    or, after its last, ends."""
    if outcome not in ("wrong_code", "locked"):
        return True
    return is_waiting_for_approval(state_type, pause_key) or state_type in TERMINAL_STATES
