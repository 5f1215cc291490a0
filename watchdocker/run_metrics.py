"""What the flow runs did, counted across processes for `/metrics`: scans and updates by
result, registry requests and lookup errors by registry, run durations. Each run folds its
counts into one file under the state directory (locked, replaced atomically), since scans and
updates run in the Runner's subprocesses, the CLI and serve's API alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, Field

from watchdocker.state_lock import change_model, read_model

ScanResult = str  # "ok", "errors" (some container's status is an error), "failed" (no result)


class Durations(BaseModel):
    count: int = 0
    seconds: float = 0.0  # their sum
    last: float = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.seconds += seconds
        self.last = seconds


class RunTotals(BaseModel):
    scans: dict[str, int] = Field(default_factory=dict)  # scan result -> runs
    updates: dict[str, int] = Field(default_factory=dict)  # container result -> containers
    registry_requests: dict[str, int] = Field(default_factory=dict)  # registry -> requests
    registry_errors: dict[str, int] = Field(default_factory=dict)  # registry -> failed lookups
    scan_durations: Durations = Field(default_factory=Durations)
    update_durations: Durations = Field(default_factory=Durations)


def _add(counts: dict[str, int], more: Mapping[str, int]) -> None:
    for key, value in more.items():
        counts[key] = counts.get(key, 0) + value


def _path(state_dir: Path) -> Path:
    return state_dir / "metrics" / "runs.json"


def read_totals(state_dir: Path) -> RunTotals:
    return read_model(_path(state_dir), RunTotals) or RunTotals()


def _fold(state_dir: Path, change: Callable[[RunTotals], None]) -> None:
    def folded(before: RunTotals | None) -> RunTotals:
        totals = before or RunTotals()
        change(totals)
        return totals

    change_model(_path(state_dir), RunTotals, folded)


def scan_result(statuses: Iterable[str]) -> ScanResult:
    return "errors" if "error" in statuses else "ok"


def record_scan(
    state_dir: Path,
    result: ScanResult,
    seconds: float,
    requests: Mapping[str, int] | None = None,
    errors: Mapping[str, int] | None = None,
) -> None:
    def change(totals: RunTotals) -> None:
        _add(totals.scans, {result: 1})
        _add(totals.registry_requests, requests or {})
        _add(totals.registry_errors, errors or {})
        totals.scan_durations.add(seconds)

    _fold(state_dir, change)


def record_update(state_dir: Path, results: Iterable[str], seconds: float) -> None:
    """One update run: the result of each container it was about."""

    def change(totals: RunTotals) -> None:
        for result in results:
            _add(totals.updates, {result: 1})
        totals.update_durations.add(seconds)

    _fold(state_dir, change)
