"""`watch-docker update` in a terminal asks for the approval code itself while the flow run
waits: in a thread of an update run in this process, or after serve's API said the run waits.
The answer goes the same way as `watch-docker approve`'s (or through the API)."""

from __future__ import annotations

import getpass
import threading
from dataclasses import dataclass

from rich.console import Console

# Not flows.approval: Prefect must not be imported before the CLI has set its environment.
from watchdocker.approval import WAITING_HOOKS


@dataclass(frozen=True)
class TypedAnswer:
    approver: str
    code: str
    reject: bool


def read_answer(run_id: str, attempt: int) -> TypedAnswer | None:
    """What the person at the terminal answers; None when there is no terminal after all."""
    console = Console(stderr=True)
    console.print(f"[bold]approval needed[/] (attempt {attempt}); flow run {run_id}")
    try:
        approver = input("approver [default]: ").strip() or "default"
        code = getpass.getpass("code: ").strip()
        # A rejection needs the code too: else anyone at the form could block updates.
        reject = input("approve or reject? [A/r]: ").strip().lower().startswith("r")
    except EOFError:
        return None  # the UI or `watch-docker approve` answers
    return TypedAnswer(approver, code, reject)


def say_verdict(verdict: dict) -> None:
    Console(stderr=True).print(f"{verdict['outcome'].replace('_', ' ')}: {verdict['reason']}")


def _ask(run_id: str, attempt: int) -> None:
    from watchdocker.deployments.approvals import NotWaiting, answer_approval

    answer = read_answer(run_id, attempt)
    if answer is None:
        return
    try:
        verdict = answer_approval(run_id, answer.approver, answer.code, reject=answer.reject)
    except NotWaiting as exc:
        Console(stderr=True).print(str(exc))
        return
    say_verdict(verdict)


def prompt_for_approvals() -> None:
    def start(run_id: str, attempt: int) -> None:
        threading.Thread(target=_ask, args=(run_id, attempt), daemon=True).start()

    WAITING_HOOKS.append(start)
