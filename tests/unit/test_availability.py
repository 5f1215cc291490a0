"""What a scan tells of new images (watchdocker.availability), the messages it and an expired
approval send, and how an expired approval is recognised."""

from __future__ import annotations

import re
from typing import Any

import pytest

from watchdocker.approval import approval_expired, no_answer
from watchdocker.availability import (
    NewImage,
    engine_prefix,
    entry_name,
    entry_value,
    read_entry,
    what_to_tell,
)
from watchdocker.container_status import ContainerStatus
from watchdocker.notify import MAX_LISTED, approval_verdict, updates_available

OLD = "sha256:" + "0123456789ab" + "c" * 52
NEW = "sha256:" + "fedcba987654" + "d" * 52
NEWER = "sha256:" + "abcabcabcabc" + "e" * 52


def status(name: str, kind: str, remote: str | None = NEW, local: str | None = OLD) -> Any:
    return ContainerStatus(
        id=f"id-{name}",
        name=name,
        image=f"example/{name}:latest",
        running=True,
        status=kind,  # type: ignore[arg-type]
        local_digest=local,
        remote_digest=remote,
    )


def told_names(statuses: list[ContainerStatus], told: dict[str, str], complete: bool = True):
    telling = what_to_tell(statuses, told, complete)
    return [n.container for n in telling.tell], telling.forget


def test_a_new_digest_is_told_with_its_container_image_and_digests() -> None:
    telling = what_to_tell([status("web", "update_available")], {}, complete=True)
    assert telling.tell == [NewImage("web", "example/web:latest", OLD, NEW)]
    assert telling.forget == []


def test_the_same_digest_is_not_told_twice() -> None:
    assert told_names([status("web", "update_available")], {"web": NEW}) == ([], [])


def test_a_digest_that_moved_on_again_is_told_again() -> None:
    statuses = [status("web", "update_available", remote=NEWER)]
    assert told_names(statuses, {"web": NEW}) == (["web"], [])


@pytest.mark.parametrize("kind", ["up_to_date", "skipped"])
def test_a_container_up_to_date_or_skipped_leaves_the_record(kind: str) -> None:
    assert told_names([status("web", kind)], {"web": NEW}) == ([], ["web"])


def test_a_lookup_error_keeps_the_entry_so_nothing_is_told_again_after_it() -> None:
    assert told_names([status("web", "error", remote=None)], {"web": NEW}) == ([], [])
    # ... and the next good scan finds it told already.
    assert told_names([status("web", "update_available")], {"web": NEW}) == ([], [])


def test_a_container_gone_leaves_the_record_only_when_the_scan_saw_everything() -> None:
    told = {"web": NEW, "gone": NEW}
    assert told_names([status("web", "update_available")], told) == ([], ["gone"])
    assert told_names([status("web", "update_available")], told, complete=False) == ([], [])


def test_an_update_without_a_remote_digest_is_not_told() -> None:
    assert told_names([status("web", "update_available", remote=None)], {}) == ([], [])


def test_containers_never_told_and_not_outdated_change_nothing() -> None:
    assert told_names([status("a", "up_to_date"), status("b", "error")], {}) == ([], [])


def test_entry_names_are_valid_variable_names_per_engine_and_container() -> None:
    name = entry_name("ABCD:EFGH:1234", "My.Web_1")
    assert re.fullmatch(r"[a-z0-9_-]+", name) and len(name) <= 255
    assert name.startswith(engine_prefix("ABCD:EFGH:1234"))
    assert name != entry_name("ABCD:EFGH:1234", "my.web_1")  # names differ in case only
    assert name != entry_name("other-engine", "My.Web_1")


@pytest.mark.parametrize(
    "value, expected",
    [
        (entry_value("web", NEW), ("web", NEW)),
        ({"container": "web"}, None),
        ({"container": "", "digest": NEW}, None),
        ("web", None),
        (None, None),
        ({"container": 1, "digest": NEW}, None),
    ],
)
def test_an_entry_edited_into_something_else_reads_as_not_told(value: Any, expected: Any) -> None:
    assert read_entry(value) == expected


# --- messages ------------------------------------------------------------------------------


def test_the_message_lists_each_container_with_short_digests() -> None:
    new = [NewImage("web", "example/web:latest", OLD, NEW), NewImage("db", "pg:16", None, NEWER)]
    message = updates_available(new, "http://ui/runs/1")
    assert message.title == "watch-docker: 2 updates available"
    assert message.body.splitlines() == [
        "- web (example/web:latest): 0123456789ab → fedcba987654",
        "- db (pg:16): ? → abcabcabcabc",
        "Scan: http://ui/runs/1",
    ]
    assert message.level == "info"
    assert updates_available(new[:1]).title == "watch-docker: 1 update available"


def test_a_long_list_is_cut_and_says_how_many_more() -> None:
    new = [NewImage(f"c{i}", "img", OLD, NEW) for i in range(MAX_LISTED + 7)]
    lines = updates_available(new).body.splitlines()
    assert len(lines) == MAX_LISTED + 1 and lines[-1] == "… and 7 more"


def test_the_verdict_of_an_approval() -> None:
    rejected = approval_verdict(False, no_answer(60), "web, db", "http://ui/runs/2")
    assert rejected.title == "watch-docker: update rejected"
    assert rejected.body == "no answer within 60s: web, db. http://ui/runs/2"
    assert rejected.level == "warning"
    approved = approval_verdict(True, "approved by alice", "web", "u")
    assert (approved.title, approved.level) == ("watch-docker: update approved", "info")


@pytest.mark.parametrize(
    "state_type, message, expired",
    [
        ("FAILED", "The flow was paused and never resumed.", True),
        ("FAILED", "The flow was suspended and never resumed.", True),
        ("FAILED", "Flow run encountered an exception: ValueError", False),
        ("COMPLETED", "The flow was paused and never resumed.", False),
        ("FAILED", None, False),
    ],
)
def test_an_expired_approval_is_told_apart(state_type: str, message: Any, expired: bool) -> None:
    assert approval_expired(state_type, message) is expired
