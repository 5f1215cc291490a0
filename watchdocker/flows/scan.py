"""The `scan` flow: discover containers -> policy -> resolve each distinct reference's digest
-> one status per container, published as a table artifact in the Prefect UI."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from prefect import Flow, State, flow
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.context import FlowRunContext
from prefect.runtime import flow_run

from watchdocker.config import load_settings
from watchdocker.container_status import (
    DigestResolution,
    PlatformAnswer,
    PlatformLookup,
    ScanReport,
    plan_check,
)
from watchdocker.flows.clients import engine_for, registry_client_for, updater_for
from watchdocker.flows.task_runners import thread_pool
from watchdocker.freshness import asks_registry_afresh
from watchdocker.lookups import judge_plans
from watchdocker.report_rows import SCAN_COLUMNS, headline, scan_rows, table
from watchdocker.run_metrics import record_scan, scan_result
from watchdocker.scan_store import save_scan
from watchdocker.tasks.availability import tell_new_images
from watchdocker.tasks.scan import (
    discover_containers_task,
    resolve_platform_images,
    resolve_remote_digests,
)
from watchdocker.tasks.update import recover_interrupted_updates
from watchdocker.update.journal import has_entries, journal_root

ARTIFACT_KEY = "watchdocker-scan"


def _publish(report: ScanReport) -> None:
    # What needs attention first, and the counts ahead of the table, so that outdated
    # containers stand out among fifty rows.
    rows = scan_rows(report.containers)
    create_table_artifact(
        table=table(rows, SCAN_COLUMNS),
        key=ARTIFACT_KEY,
        description=f"**scan of {headline(rows)}**",
    )
    run_id = flow_run.get_id()
    if run_id:
        with get_client(sync_client=True) as client:
            client.update_flow_run(UUID(run_id), name=f"scan: {report.summary}")


def auto_scheduled() -> bool:
    """Prefect's scheduler created the run in progress from a deployment's schedule."""
    context = FlowRunContext.get()
    return bool(context and context.flow_run and context.flow_run.auto_scheduled)


def _count_failed_scan(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    """A scan that gave no result still counts, for /metrics. (Prefect passes the arguments by
    these names.)"""
    settings = load_settings(flow_run.parameters.get("config_file"))
    start = flow_run.start_time
    seconds = (state.timestamp - start).total_seconds() if start else 0.0
    record_scan(settings.state_dir, "failed", seconds)


@flow(
    name="scan",
    description="Tell, for every container, whether its registry has a newer image.",
    task_runner=thread_pool(max_workers=16),
    log_prints=False,
    on_failure=[_count_failed_scan],
    # Persisted: serve's API reads the report of a run it started (deployment_runs).
    persist_result=True,
)
def scan(
    include_stopped: bool | None = None,
    config_file: str | None = None,
    docker_host_block: str | None = None,
    names: list[str] | None = None,
    fresh: bool | None = None,
) -> ScanReport:
    """Scan a Docker engine: the settings' (`docker.host`, DOCKER_HOST or the socket), or the
    one of a `DockerHost` block.

    Args:
        include_stopped: also check stopped containers (default: docker.includeStopped).
        config_file: a config.yaml to read instead of the default places.
        docker_host_block: the name of a DockerHost block to scan instead.
        names: only these containers (default: every container).
        fresh: ask the registries afresh rather than reuse cached digests (default: yes,
            unless the schedule started this run).
    """
    started, started_at = time.monotonic(), time.time()
    settings = load_settings(config_file)
    if include_stopped is None:
        include_stopped = settings.docker.include_stopped
    engine = engine_for(settings, docker_host_block)
    try:
        # Every flow recovers first (an update left half-done is a service down); with an
        # empty journal that costs one directory listing.
        if has_entries(journal_root(settings.state_dir)):
            through_compose = docker_host_block is None
            recover_interrupted_updates(
                updater_for(settings, engine, through_compose=through_compose)
            )
        # An update of some containers inspects and waits for their registries only.
        containers = discover_containers_task(engine, include_stopped, names)
        engine_id = engine.info()["ID"]
    finally:
        engine.close()
    plans = [plan_check(c, settings.policy) for c in containers]
    fresh_lookups = asks_registry_afresh(fresh, auto_scheduled())
    with registry_client_for(settings) as registry:

        def digests(references: list[str]) -> dict[str, DigestResolution]:
            if not references:
                return {}
            return resolve_remote_digests(
                references,
                registry,
                fresh_lookups,
                settings.scan.cache_ttl,
                settings.scan.error_ttl,
            )

        def platforms(lookups: list[PlatformLookup]) -> dict[PlatformLookup, PlatformAnswer]:
            return resolve_platform_images(lookups, registry) if lookups else {}

        statuses = judge_plans(plans, digests, platforms)
        requests, errors = registry.requests_by_registry(), registry.errors_by_registry()
    report = ScanReport(containers=statuses)
    # For serve's API: its container list is this result merged with the engine's live state.
    save_scan(settings.state_dir, engine_id, report, started_at, names)
    result = scan_result(c.status for c in statuses)
    record_scan(settings.state_dir, result, time.monotonic() - started, requests, errors)
    _publish(report)
    if not flow_run.get_parent_flow_run_id():
        # An update run's own scan is followed by the update's notifications: no second one.
        tell_new_images(report, engine_id, settings, complete=names is None)
    return report
