"""The latest scan's result of each engine, kept under the state directory so that serve's
API lists containers without asking any registry. Whoever runs the scan flow (the Runner's
subprocess, the CLI, the API) saves it; a scan of some containers only replaces theirs."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from pydantic import BaseModel

from watchdocker.container_status import ContainerStatus, ScanReport
from watchdocker.state_lock import change_model, read_model


class SavedScan(BaseModel):
    engine_id: str
    scanned_at: float  # epoch seconds of the latest complete scan
    containers: list[ContainerStatus]


def _folder(state_dir: Path) -> Path:
    return state_dir / "scans"


def scan_path(state_dir: Path, engine_id: str) -> Path:
    return _folder(state_dir) / f"{engine_id.replace(':', '_').replace('/', '_')}.json"


def load_scan(state_dir: Path, engine_id: str) -> SavedScan | None:
    """The saved result, None when there is none yet (or it cannot be read: a scan rewrites
    it)."""
    return read_model(scan_path(state_dir, engine_id), SavedScan)


def merged_scan(
    before: SavedScan | None,
    engine_id: str,
    report: ScanReport,
    when: float,
    names: Collection[str] | None,
) -> SavedScan:
    """What to keep after a scan: a complete one (`names` None) replaces everything; one of
    `names` replaces those containers' entries and keeps the others as they were."""
    if names is None or before is None:
        return SavedScan(engine_id=engine_id, scanned_at=when, containers=report.containers)
    scanned = {c.name for c in report.containers} | set(names)
    kept = [c for c in before.containers if c.name not in scanned]
    containers = sorted(kept + report.containers, key=lambda c: c.name)
    return SavedScan(engine_id=engine_id, scanned_at=before.scanned_at, containers=containers)


def save_scan(
    state_dir: Path,
    engine_id: str,
    report: ScanReport,
    when: float,
    names: Collection[str] | None = None,
) -> None:
    """Atomically: a reader sees the previous result or this one, never a half-written file."""
    change_model(
        scan_path(state_dir, engine_id),
        SavedScan,
        lambda before: merged_scan(before, engine_id, report, when, names),
    )


def newly_available(before: SavedScan | None, after: SavedScan) -> list[ContainerStatus]:
    """The containers `after` finds outdated that `before` did not (or found outdated with
    another new image): what the status stream tells as `update_available`."""
    seen = {c.id: (c.status, c.remote_digest) for c in before.containers} if before else {}
    return [
        c
        for c in after.containers
        if c.status == "update_available" and seen.get(c.id) != (c.status, c.remote_digest)
    ]
