"""The one table of rows behind the CLI's tables and the scan artifact, and the one short
digest."""

from __future__ import annotations

import pytest

from watchdocker.container_status import ContainerStatus
from watchdocker.digests import short_digest, short_image
from watchdocker.report_rows import (
    Row,
    attention_first,
    headline,
    plain_lines,
    scan_rows,
    status_counts,
    table,
    update_rows,
)
from watchdocker.update.plan import UpdateResult

OLD = "sha256:" + "0123456789ab" + "c" * 52
NEW = "sha256:" + "fedcba987654" + "d" * 52


def status(name: str, state: str, reason: str = "", **digests: str) -> ContainerStatus:
    image = f"r/{name}:latest"
    return ContainerStatus(
        id=name, name=name, image=image, running=True, status=state, reason=reason, **digests
    )


@pytest.mark.parametrize(
    ("digest", "short"),
    [(OLD, "0123456789ab"), ("0123456789abcdef", "0123456789ab"), (None, ""), ("", "")],
)
def test_short_digest(digest: str | None, short: str) -> None:
    assert short_digest(digest) == short


@pytest.mark.parametrize(
    ("image", "shown"),
    [
        (OLD, "0123456789ab"),
        (OLD.removeprefix("sha256:"), "0123456789ab"),
        ("r/web:latest", "r/web:latest"),
        (f"r/web@{OLD}", "r/web@sha256:0123456789ab"),
        (f"127.0.0.1:5100/r/web:1@{OLD}", "127.0.0.1:5100/r/web:1@sha256:0123456789ab"),
        ("0123456789ab", "0123456789ab"),
    ],
)
def test_image_ids_and_digests_of_images_are_short_in_tables(image: str, shown: str) -> None:
    assert short_image(image) == shown
    by_id = ContainerStatus(id="c", name="c", image=image, running=True, status="skipped")
    assert scan_rows([by_id])[0].image == shown
    assert update_rows([UpdateResult(name="c", image=image, result="skipped")])[0].image == shown


def test_scan_rows_put_errors_and_updates_first_then_by_name() -> None:
    rows = scan_rows(
        [
            status("a-fine", "up_to_date"),
            status("z-new", "update_available"),
            status("b-skip", "skipped", "label watchdocker.skip"),
            status("m-broken", "error", "registry said 500"),
            status("c-new", "update_available"),
        ]
    )
    assert [(r.status, r.name) for r in rows] == [
        ("error", "m-broken"),
        ("update_available", "c-new"),
        ("update_available", "z-new"),
        ("up_to_date", "a-fine"),
        ("skipped", "b-skip"),
    ]


def test_scan_rows_carry_short_digests_and_the_whole_reason() -> None:
    reason = "a reason long enough to be cut off by any table that keeps its columns narrow"
    [row] = scan_rows(
        [status("web", "update_available", reason, local_digest=OLD, remote_digest=NEW)]
    )
    short = ("0123456789ab", "fedcba987654")
    assert row == Row("web", "r/web:latest", "update_available", reason, *short)


def test_update_rows_put_failures_first() -> None:
    results = [
        UpdateResult(name="a", image="r/a", result="updated"),
        UpdateResult(name="b", image="r/b", result="up_to_date"),
        UpdateResult(name="c", image="r/c", result="rolled_back", reason="unhealthy"),
        UpdateResult(name="d", image="r/d", result="failed", reason="pull failed"),
        UpdateResult(name="e", image="r/e", result="skipped"),
    ]
    rows = update_rows(results)
    assert [r.name for r in rows] == ["d", "c", "a", "b", "e"]
    assert rows[0].status == "failed" and rows[0].reason == "pull failed"


def test_an_unknown_status_sits_with_the_changes() -> None:
    rows = [Row("z", "i", "up_to_date"), Row("y", "i", "would_update"), Row("x", "i", "error")]
    assert [r.status for r in attention_first(rows)] == ["error", "would_update", "up_to_date"]


def test_status_counts_most_urgent_first() -> None:
    states = {"a": "up_to_date", "b": "update_available", "c": "up_to_date", "d": "skipped"}
    rows = scan_rows([status(name, state) for name, state in {**states, "e": "error"}.items()])
    assert status_counts(rows) == "1 error, 1 update_available, 2 up_to_date, 1 skipped"
    assert status_counts([]) == ""


def test_the_artifact_leads_with_the_counts_and_keeps_its_columns() -> None:
    rows = scan_rows([status("web", "update_available", remote_digest=NEW), status("db", "error")])
    assert headline(rows) == "2 containers: 1 error, 1 update_available"
    assert headline([]) == "no containers"
    assert headline(rows[:1]) == "1 container: 1 error"
    assert table(rows, ("status", "name", "remote")) == [
        {"status": "error", "name": "db", "remote": ""},
        {"status": "update_available", "name": "web", "remote": "fedcba987654"},
    ]


def test_plain_lines_are_one_line_per_row_with_every_field() -> None:
    rows = [
        Row("web", "r/web:latest", "update_available", "new\nimage\tpushed", "0123", "fedc"),
        Row("db", "r/db:16", "skipped"),
    ]
    lines = plain_lines(rows, ("name", "status", "local", "reason"))
    assert lines == [
        "NAME\tSTATUS\tLOCAL\tREASON",
        "web\tupdate_available\t0123\tnew image pushed",
        "db\tskipped\t-\t-",
    ]


def test_unknown_digests_read_as_a_question_mark_in_notices_and_forms() -> None:
    from watchdocker.approval import plan_markdown
    from watchdocker.notify import UpdateOutcome, run_summary
    from watchdocker.update.plan import PlannedUpdate

    planned = PlannedUpdate(container_id="1", name="web", image="r/web", remote_digest=NEW)
    assert "| web | r/web | ? | fedcba987654 |" in plan_markdown([planned])
    outcome = UpdateOutcome(name="web", image="r/web", result="updated", new_digest=NEW)
    assert "? → fedcba987654" in run_summary([outcome]).body
