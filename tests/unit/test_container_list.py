"""The API's container list: the saved scan merged with the engine's live state."""

from __future__ import annotations

from watchdocker.container_list import merge_with_live
from watchdocker.container_status import ContainerStatus
from watchdocker.engine.inventory import LiveContainer
from watchdocker.scan_store import SavedScan


def live(cid: str, name: str, running: bool = True, created: float = 50) -> LiveContainer:
    state = "running" if running else "exited"
    return LiveContainer(
        id=cid,
        name=name,
        image="app:1",
        running=running,
        state=state,
        created=created,
        image_id="sha256:x",
    )


def scanned(cid: str, name: str, status: str = "update_available") -> ContainerStatus:
    return ContainerStatus(
        id=cid,
        name=name,
        image="app:1",
        running=True,
        status=status,
        reason="new",
        local_digest="sha256:l",
        remote_digest="sha256:r",
    )


SAVED = SavedScan(
    engine_id="E",
    scanned_at=100,
    containers=[scanned("1", "web"), scanned("2", "db", "up_to_date"), scanned("3", "gone")],
)


def test_scanned_containers_keep_their_status_with_live_running_and_state():
    listed = merge_with_live(SAVED, [live("1", "web", running=False)])
    assert listed[0].model_dump() == {
        "id": "1",
        "name": "web",
        "image": "app:1",
        "running": False,
        "status": "update_available",
        "reason": "new",
        "local_digest": "sha256:l",
        "remote_digest": "sha256:r",
        "state": "exited",
    }


def test_containers_gone_since_the_scan_are_dropped():
    assert [c.name for c in merge_with_live(SAVED, [live("2", "db")])] == ["db"]


def test_containers_the_scan_did_not_see_are_unknown_with_why():
    listed = merge_with_live(
        SAVED,
        [live("9", "web"), live("8", "new", created=150), live("7", "old", running=False)],
    )
    assert [(c.status, c.reason) for c in listed] == [
        ("unknown", "recreated since the last scan"),
        ("unknown", "created since the last scan"),
        (
            "unknown",
            "not in the last scan (a stopped container is scanned with docker.includeStopped)",
        ),
    ]
    assert all(c.local_digest is None and c.remote_digest is None for c in listed)


def test_without_any_scan_every_container_is_unknown():
    listed = merge_with_live(None, [live("1", "web")])
    assert listed[0].status == "unknown"
    assert listed[0].reason == "not scanned yet: no scan has run on this engine"


def test_a_container_created_in_the_second_the_scan_started_counts_as_created_since():
    # The engine gives whole seconds: 100 may be 100.9, after a scan started at 100.5.
    saved = SAVED.model_copy(update={"scanned_at": 100.5})
    [listed] = merge_with_live(saved, [live("8", "new", created=100)])
    assert listed.reason == "created since the last scan"
