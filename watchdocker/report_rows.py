"""One table of rows for what a scan or an update run found, shared by the CLI's tables and
the scan's artifact: what needs attention first, short digests and image IDs, counts by
status."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from watchdocker.container_status import ContainerStatus
from watchdocker.digests import short_digest, short_image
from watchdocker.update.plan import UpdateResult

# Lower first: failures, then what changed or could change, then what needs nothing.
ATTENTION = {
    "error": 0,
    "failed": 0,
    "rolled_back": 1,
    "update_available": 2,
    "would_update": 2,
    "updated": 3,
    "up_to_date": 4,
    "skipped": 5,
}
_UNRANKED = 3  # a status this table does not know yet sits with the changes
# The columns of each table, the same in the CLI, its plain lines and the runs' artifacts.
SCAN_COLUMNS = ("name", "image", "status", "local", "remote", "reason")
UPDATE_COLUMNS = ("name", "image", "status", "reason")


@dataclass(frozen=True)
class Row:
    name: str
    image: str
    status: str
    reason: str = ""
    local: str = ""  # short digests; empty when unknown
    remote: str = ""


def _rank(row: Row) -> int:
    return ATTENTION.get(row.status, _UNRANKED)


def attention_first(rows: Iterable[Row]) -> list[Row]:
    """Errors and updates before the rest; by name within a status."""
    return sorted(rows, key=lambda row: (_rank(row), row.name))


def scan_rows(containers: Iterable[ContainerStatus]) -> list[Row]:
    return attention_first(
        Row(
            c.name,
            short_image(c.image),
            c.status,
            c.reason,
            short_digest(c.local_digest),
            short_digest(c.remote_digest),
        )
        for c in containers
    )


def update_rows(results: Iterable[UpdateResult]) -> list[Row]:
    return attention_first(Row(r.name, short_image(r.image), r.result, r.reason) for r in results)


def status_counts(rows: Sequence[Row]) -> str:
    """`1 error, 2 update_available, 40 up_to_date`: every status present, most urgent first,
    in the words of the table's status column."""
    counts = Counter(row.status for row in rows)
    order = sorted(counts, key=lambda status: (ATTENTION.get(status, _UNRANKED), status))
    return ", ".join(f"{counts[status]} {status}" for status in order)


def headline(rows: Sequence[Row]) -> str:
    """`3 containers: 1 error, 2 up_to_date`, ahead of a table of many rows."""
    if not rows:
        return "no containers"
    noun = "container" if len(rows) == 1 else "containers"
    return f"{len(rows)} {noun}: {status_counts(rows)}"


def table(rows: Sequence[Row], columns: Sequence[str]) -> list[dict[str, str]]:
    """The rows as records of `columns`, for an artifact."""
    return [{column: getattr(row, column) for column in columns} for row in rows]


def plain_lines(rows: Sequence[Row], columns: Sequence[str]) -> list[str]:
    """A header and one tab-separated line per row (no cell holds a tab or a newline), for
    scripts: `cut -f`, `awk -F'\\t'`. Empty cells are `-` so that every line has every field."""

    def cell(row: Row, column: str) -> str:
        text = " ".join(str(getattr(row, column)).split())
        return text or "-"

    header = "\t".join(column.upper() for column in columns)
    return [header] + ["\t".join(cell(row, column) for column in columns) for row in rows]
