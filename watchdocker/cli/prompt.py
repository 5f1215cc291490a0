"""`watch-docker update` in a terminal asks for the approval code itself, in a thread, while the
flow run waits; the answer goes the same way as `watch-docker approve`'s."""

from __future__ import annotations

import getpass
import threading

from rich.console import Console

# Not flows.approval: Prefect must not be imported before the CLI has set its environment.
from watchdocker.approval import WAITING_HOOKS


def _ask(run_id: str, attempt: int) -> None:
    from watchdocker.cli.approvals import NotWaiting, answer_approval

    console = Console(stderr=True)
    console.print(f"[bold]approval needed[/] (attempt {attempt}); flow run {run_id}")
    try:
        approver = input("approver [default]: ").strip() or "default"
        code = getpass.getpass("code: ").strip()
        # A rejection needs the code too: else anyone at the form could block updates.
        reject = input("approve or reject? [A/r]: ").strip().lower().startswith("r")
    except EOFError:
        return  # no terminal after all: the UI or `watch-docker approve` answers
    try:
        verdict = answer_approval(run_id, approver, code, reject=reject)
    except NotWaiting as exc:
        console.print(str(exc))
        return
    console.print(f"{verdict['outcome'].replace('_', ' ')}: {verdict['reason']}")


def prompt_for_approvals() -> None:
    def start(run_id: str, attempt: int) -> None:
        threading.Thread(target=_ask, args=(run_id, attempt), daemon=True).start()

    WAITING_HOOKS.append(start)
