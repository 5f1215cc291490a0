"""The CLI's tables (of `report_rows`, compose projects, approvals): rich columns for a
terminal, whatever its width; plain tab-separated lines when stdout is a pipe or a file, so
that no cell is ever wrapped."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from watchdocker.report_rows import Row, plain_lines
from watchdocker.stacks.projects import Stack

if TYPE_CHECKING:
    from watchdocker.deployments.approvals import PendingApproval

STYLE = {
    "update_available": "bold yellow",
    "up_to_date": "green",
    "skipped": "dim",
    "error": "bold red",
    "updated": "bold green",
    "rolled_back": "bold yellow",
    "failed": "bold red",
    "would_update": "bold yellow",
    "running": "green",
    "partial": "bold yellow",
    "stopped": "dim",
    "not created": "dim",
}
DIGEST_COLUMNS = ("local", "remote")
# Below this width the digests give their room to the reason (`--json` has them in full).
DIGESTS_FROM_WIDTH = 110


def print_rows(title: str, rows: Sequence[Row], columns: Sequence[str], summary: str) -> None:
    if not sys.stdout.isatty():
        print("\n".join(plain_lines(rows, columns)))
        print(summary)
        return
    console = Console()
    if console.width < DIGESTS_FROM_WIDTH:
        columns = [column for column in columns if column not in DIGEST_COLUMNS]
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, highlight=False)
    for column in columns:
        longest = max([len(column)] + [len(getattr(row, column)) for row in rows])
        if column == "status" or column in DIGEST_COLUMNS:
            # A status word or a short digest is read whole, never split over lines.
            table.add_column(column.upper(), no_wrap=True, min_width=longest)
        elif column == "name":
            # The name is what a person looks for: whole when it takes up to a quarter.
            width = min(longest, console.width // 4)
            table.add_column(column.upper(), overflow="fold", min_width=width)
        else:
            table.add_column(column.upper(), overflow="fold")
    for row in rows:
        # Text cells: a reason holding `[...]` is shown as written, not read as markup.
        table.add_row(*(_cell(row, column) for column in columns))
    console.print(table)
    console.print(summary, highlight=False)


def _cell(row: Row, column: str) -> Text:
    style = STYLE.get(row.status, "") if column == "status" else ""
    return Text(getattr(row, column), style=style)


def _services(stack: Stack) -> str:
    return ", ".join(
        f"{s.name} ({', '.join(c.state for c in s.containers) or 'no container'})"
        for s in stack.services
    )


def print_stacks(stacks: Sequence[Stack]) -> None:
    """Compose projects: name, status, services with their containers' states, folder."""
    rows = [(s.name, s.status, _services(s), s.folder or "") for s in stacks]
    _print_cells("compose projects", ("NAME", "STATUS", "SERVICES", "FOLDER"), rows)


def print_approvals(pending: Sequence[PendingApproval]) -> None:
    """The update runs waiting for an approver."""
    rows = [
        (p.flow_run_id, p.name, ", ".join(p.containers), f"{p.waiting_seconds}s") for p in pending
    ]
    _print_cells("waiting for approval", ("FLOW RUN", "NAME", "CONTAINERS", "WAITING"), rows)


def _print_cells(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Tab-separated lines when piped (an empty cell as `-`); else a table, its STATUS coloured."""
    if not sys.stdout.isatty():
        print("\t".join(columns))
        for row in rows:
            print("\t".join(cell or "-" for cell in row))
        return
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, highlight=False)
    for column in columns:
        table.add_column(column, no_wrap=column == "STATUS", overflow="fold")
    for row in rows:
        table.add_row(
            *(
                Text(cell, style=STYLE.get(cell, "") if column == "STATUS" else "")
                for column, cell in zip(columns, row, strict=True)
            )
        )
    Console().print(table)
