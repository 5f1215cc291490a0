"""The latest scan's result under the state directory: saved atomically, per engine; a scan
of some containers only replaces theirs."""

from __future__ import annotations

import threading
from pathlib import Path

from watchdocker.container_status import ContainerStatus, ScanReport
from watchdocker.scan_store import load_scan, save_scan, scan_path


def status(name: str, status: str = "up_to_date") -> ContainerStatus:
    return ContainerStatus(id=f"id-{name}", name=name, image="app:1", running=True, status=status)


def report(*statuses: ContainerStatus) -> ScanReport:
    return ScanReport(containers=list(statuses))


def test_nothing_saved_yet_and_a_garbled_file_read_as_none(tmp_path: Path):
    assert load_scan(tmp_path, "E") is None
    scan_path(tmp_path, "E").parent.mkdir(parents=True)
    scan_path(tmp_path, "E").write_text("{half")
    assert load_scan(tmp_path, "E") is None


def test_a_complete_scan_replaces_the_previous_one_per_engine(tmp_path: Path):
    save_scan(tmp_path, "E:1", report(status("a"), status("b")), when=10)
    save_scan(tmp_path, "E:1", report(status("c")), when=20)
    save_scan(tmp_path, "other", report(status("z")), when=30)
    saved = load_scan(tmp_path, "E:1")
    assert saved is not None and saved.scanned_at == 20
    assert [c.name for c in saved.containers] == ["c"]
    assert scan_path(tmp_path, "E:1").stat().st_mode & 0o777 == 0o600


def test_a_scan_of_some_containers_replaces_only_theirs(tmp_path: Path):
    save_scan(tmp_path, "E", report(status("a"), status("b")), when=10)
    save_scan(tmp_path, "E", report(status("b", "update_available")), when=20, names=["b", "x"])
    saved = load_scan(tmp_path, "E")
    assert saved is not None and saved.scanned_at == 10  # still that of the complete scan
    assert [(c.name, c.status) for c in saved.containers] == [
        ("a", "up_to_date"),
        ("b", "update_available"),
    ]


def test_partial_scans_at_once_keep_each_others_results(tmp_path: Path):
    save_scan(tmp_path, "E", report(*(status(f"c{i}") for i in range(8))), when=1)
    threads = [
        threading.Thread(
            target=save_scan,
            args=(tmp_path, "E", report(status(f"c{i}", "error")), 2, [f"c{i}"]),
        )
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    saved = load_scan(tmp_path, "E")
    assert saved is not None and {c.status for c in saved.containers} == {"error"}
