"""The runs' counts folded across processes, and their rendering for /metrics."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from watchdocker.api.prometheus import render_metrics
from watchdocker.container_status import ContainerStatus
from watchdocker.run_metrics import read_totals, record_scan, record_update, scan_result
from watchdocker.scan_store import SavedScan


def _one_scan(state_dir: Path) -> None:
    record_scan(state_dir, "ok", 1.0, {"r.example": 2}, {})


def test_runs_in_many_processes_at_once_all_count(tmp_path: Path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_one_scan, args=(tmp_path,)) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    totals = read_totals(tmp_path)
    assert totals.scans == {"ok": 6}
    assert totals.registry_requests == {"r.example": 12}
    assert totals.scan_durations.count == 6 and totals.scan_durations.seconds == 6.0


def test_a_scan_with_an_error_status_counts_as_errors():
    assert scan_result(["up_to_date", "error"]) == "errors"
    assert scan_result(["up_to_date", "skipped"]) == "ok"
    assert scan_result([]) == "ok"


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_metrics_render_the_counts_and_the_latest_scan(tmp_path: Path):
    record_scan(tmp_path, "ok", 2.0, {"a.io": 3, "b.io": 1}, {"b.io": 1})
    record_scan(tmp_path, "failed", 0.5)
    record_update(tmp_path, ["updated", "updated", "rolled_back"], 30.0)
    saved = SavedScan(
        engine_id="E",
        scanned_at=1700000000,
        containers=[
            ContainerStatus(id=str(i), name=f"c{i}", image="x:1", running=True, status=s)
            for i, s in enumerate(["up_to_date", "up_to_date", "update_available"])
        ],
    )
    samples = _samples(render_metrics(read_totals(tmp_path), saved))
    assert samples[("watchdocker_containers", (("status", "up_to_date"),))] == 2
    assert samples[("watchdocker_containers", (("status", "update_available"),))] == 1
    assert samples[("watchdocker_containers", (("status", "error"),))] == 0
    assert samples[("watchdocker_last_scan_timestamp_seconds", ())] == 1700000000
    assert samples[("watchdocker_scans_total", (("result", "ok"),))] == 1
    assert samples[("watchdocker_scans_total", (("result", "failed"),))] == 1
    assert samples[("watchdocker_updates_total", (("result", "updated"),))] == 2
    assert samples[("watchdocker_updates_total", (("result", "rolled_back"),))] == 1
    assert samples[("watchdocker_registry_requests_total", (("registry", "a.io"),))] == 3
    assert samples[("watchdocker_registry_errors_total", (("registry", "b.io"),))] == 1
    assert samples[("watchdocker_scan_duration_seconds_count", ())] == 2
    assert samples[("watchdocker_scan_duration_seconds_sum", ())] == 2.5
    assert samples[("watchdocker_update_duration_seconds_sum", ())] == 30.0


def test_metrics_before_any_run():
    samples = _samples(render_metrics(read_totals(Path("/nonexistent")), None))
    assert samples[("watchdocker_last_scan_timestamp_seconds", ())] == 0
    assert samples[("watchdocker_scan_duration_seconds_count", ())] == 0
