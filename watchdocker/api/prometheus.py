"""`/metrics` in Prometheus text: the counts every flow run folded under the state directory
(watchdocker.run_metrics) and the latest scan's containers by status, rendered per scrape
by a collector (the runs happen in other processes, so no in-process counter would see them)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import get_args

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from watchdocker.container_status import Status
from watchdocker.run_metrics import Durations, RunTotals
from watchdocker.scan_store import SavedScan


def _counter(name: str, doc: str, label: str, counts: Mapping[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for key, value in sorted(counts.items()):
        family.add_metric([key], value)
    return family


def _summary(name: str, doc: str, durations: Durations) -> SummaryMetricFamily:
    return SummaryMetricFamily(name, doc, count_value=durations.count, sum_value=durations.seconds)


class RunsCollector(Collector):
    def __init__(self, totals: RunTotals, saved: SavedScan | None) -> None:
        self.totals = totals
        self.saved = saved

    def collect(self) -> Iterator[Metric]:
        totals = self.totals
        containers = GaugeMetricFamily(
            "watchdocker_containers",
            "Containers by status in the latest scan of the API's engine",
            labels=["status"],
        )
        found = self.saved.containers if self.saved else []
        for status in get_args(Status):
            containers.add_metric([status], sum(1 for c in found if c.status == status))
        yield containers
        yield GaugeMetricFamily(
            "watchdocker_last_scan_timestamp_seconds",
            "When the latest complete scan of the API's engine started (0: none yet)",
            value=self.saved.scanned_at if self.saved else 0,
        )
        yield _counter(
            "watchdocker_scans",
            "Scan runs by result: ok, errors (some container's check failed), failed",
            "result",
            totals.scans,
        )
        yield _counter(
            "watchdocker_updates",
            "Containers an update run handled, by result",
            "result",
            totals.updates,
        )
        yield _counter(
            "watchdocker_registry_requests",
            "HTTP requests sent to registries by scans, by registry",
            "registry",
            totals.registry_requests,
        )
        yield _counter(
            "watchdocker_registry_errors",
            "Registry lookups (a tag's digest, a platform's image) that failed, by registry",
            "registry",
            totals.registry_errors,
        )
        yield _summary(
            "watchdocker_scan_duration_seconds", "Scan runs' durations", totals.scan_durations
        )
        yield _summary(
            "watchdocker_update_duration_seconds", "Update runs' durations", totals.update_durations
        )


def render_metrics(totals: RunTotals, saved: SavedScan | None) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunsCollector(totals, saved))
    return generate_latest(registry)
