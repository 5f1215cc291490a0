"""The `update` and `auto-update` flows: scan, then pull -> recreate -> health-check -> remove
the old container, or roll back; one notification per run and one per problem."""

from __future__ import annotations

import time
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectAlreadyExists
from prefect.runtime import flow_run

from watchdocker.approval import needs_approval, split_by_decision
from watchdocker.blocks.notifier import configured_notifier
from watchdocker.config import Settings, load_settings
from watchdocker.engine.discovery import service_names
from watchdocker.flows.approval import request_approval
from watchdocker.flows.clients import credential_store_for, engine_for, updater_for
from watchdocker.flows.scan import auto_scheduled, scan
from watchdocker.flows.task_runners import thread_pool
from watchdocker.freshness import asks_registry_afresh
from watchdocker.notify import update_outcomes, update_run_messages
from watchdocker.registry.credentials import CredentialStore
from watchdocker.report_rows import UPDATE_COLUMNS, headline, table, update_rows
from watchdocker.run_metrics import record_update
from watchdocker.run_outcomes import record_outcomes
from watchdocker.tasks.update import (
    UPDATE_SLOTS,
    pull_image,
    recover_interrupted_updates,
    replace_container,
)
from watchdocker.update.plan import (
    PlannedUpdate,
    PulledGroup,
    UpdateReport,
    UpdateResult,
    dry_run_results,
    group_by_image,
    keep_only,
    plan_updates,
    replace_results,
    require_known,
    results_for,
)
from watchdocker.update.updater import Updater

ARTIFACT_KEY = "watchdocker-update"


@task(name="update-image", task_run_name="update {group[0].image}", cache_policy=NO_CACHE)
def update_image(
    group: list[PlannedUpdate], new_image_id: str, updater: Updater
) -> list[UpdateResult]:
    """One image's containers, replaced one after the other."""
    results = []
    for item in group:
        done = replace_container(item.name, item.container_id, new_image_id, item.image, updater)
        results += replace_results(done)
    return results


def _pull_all(
    groups: list[list[PlannedUpdate]], updater: Updater, credentials: CredentialStore
) -> tuple[list[PulledGroup], list[UpdateResult]]:
    """Every image first, while the services run; a failed pull changes nothing."""
    futures = [
        pull_image.submit(g[0].image, g[0].remote_digest, updater.api, credentials) for g in groups
    ]
    pulled, failed = [], []
    for group, future in zip(groups, futures, strict=True):
        try:
            pulled.append((group, future.result()))
        except Exception as exc:
            failed += results_for(group, "failed", f"pull failed, nothing changed: {exc}")
    return pulled, failed


@task(name="notify", cache_policy=NO_CACHE)
def notify(report: UpdateReport, planned: list[PlannedUpdate], settings: Settings) -> None:
    """One message for the run, and one for each rollback or failure; URLs never leave here."""
    outcomes = update_outcomes(report, planned)
    messages = update_run_messages(outcomes, flow_run.get_flow_run_ui_url())
    if messages:
        notifier = configured_notifier(settings, get_run_logger())
        for message in messages:
            notifier.send(message)


def _publish(report: UpdateReport) -> None:
    rows = update_rows(report.results)
    create_table_artifact(
        table=table(rows, UPDATE_COLUMNS),
        key=ARTIFACT_KEY,
        description=f"**update of {headline(rows)}**: {report.summary}",
    )
    run_id = flow_run.get_id()
    if run_id:
        with get_client(sync_client=True) as client:
            client.update_flow_run(UUID(run_id), name=f"update: {report.summary}")


def _ensure_slots(settings: Settings) -> None:
    with get_client(sync_client=True) as client:
        try:
            client.upsert_global_concurrency_limit_by_name(
                UPDATE_SLOTS, settings.update.concurrency
            )
        except ObjectAlreadyExists:
            # Prefect's upsert reads, then creates: of two runs starting together the later
            # one is refused the create. The limit exists now; upserting again updates it.
            client.upsert_global_concurrency_limit_by_name(
                UPDATE_SLOTS, settings.update.concurrency
            )


def run_update(
    settings: Settings,
    names: list[str] | None,
    dry_run: bool,
    config_file: str | None,
    require_approval: bool = False,
    docker_host_block: str | None = None,
) -> UpdateReport:
    """`names` None: every container with an update. Raises UnknownContainers, before any
    scan, when the engine has no container of one of `names`."""
    engine = engine_for(settings, docker_host_block)
    try:
        updater = updater_for(settings, engine)
        recover_interrupted_updates(updater)
        if names:
            require_known(names, service_names(engine))
        scanned = scan(
            include_stopped=True if names else None,
            config_file=config_file,
            docker_host_block=docker_host_block,
            names=names,
            # A scheduled auto-update keeps the cache; what a person runs sees the registry now.
            fresh=asks_registry_afresh(None, auto_scheduled()),
        )
        planned, known = plan_updates(
            scanned.containers,
            names,
            settings.update.allow_compose_update,
            updater.journal.in_progress(),
        )
        if dry_run:
            return UpdateReport(results=known + dry_run_results(planned))
        credentials = credential_store_for(settings)
        pulled, results = _pull_all(group_by_image(planned), updater, credentials)
        ready = [p for group, _ in pulled for p in group]
        if needs_approval(ready, settings.update.approval, require_approval):
            decision = request_approval(ready, settings)
            approved, not_done = split_by_decision(ready, decision)
            results += not_done
            if not decision.approved:
                report = UpdateReport(results=known + results)
                notify(report, planned, settings)
                return report
            pulled = keep_only(pulled, approved)
        _ensure_slots(settings)
        futures = [update_image.submit(g, image_id, updater) for g, image_id in pulled]
        report = UpdateReport(results=known + results + [r for f in futures for r in f.result()])
    finally:
        engine.close()
    notify(report, planned, settings)
    return report


# Results persisted: a run suspended for approval is resumed by running it again.
@flow(name="update", task_runner=thread_pool(max_workers=8), persist_result=True)
def update(
    containers: list[str] | None = None,
    all: bool = False,
    dry_run: bool = False,
    require_approval: bool = False,
    config_file: str | None = None,
    docker_host_block: str | None = None,
) -> UpdateReport:
    """Update the named containers, or with `all` every container a scan finds outdated.

    Args:
        containers: container names to update.
        all: update every container with an update that policy allows.
        dry_run: only say what would be updated.
        require_approval: wait for an approver's TOTP code before changing anything.
        config_file: a config.yaml to read instead of the default places.
        docker_host_block: the name of a DockerHost block whose engine to update instead.
    """
    if not containers and not all:
        raise ValueError("name the containers to update, or set all")
    started = time.monotonic()
    settings = load_settings(config_file)
    report = run_update(
        settings,
        None if all else containers,
        dry_run,
        config_file,
        require_approval,
        docker_host_block,
    )
    _publish(report)
    _record(settings, report, started)
    get_run_logger().info("update: %s", report.summary)
    return report


def _record(settings: Settings, report: UpdateReport, started: float) -> None:
    """The run's counts for /metrics and its outcomes for the API's status stream."""
    record_update(
        settings.state_dir, [r.result for r in report.results], time.monotonic() - started
    )
    record_outcomes(
        settings.state_dir, [(r.name, r.result, r.reason) for r in report.results], time.time()
    )


@flow(name="auto-update", task_runner=thread_pool(max_workers=8), persist_result=True)
def auto_update(
    config_file: str | None = None, docker_host_block: str | None = None
) -> UpdateReport:
    """Scan, then update every container that has an update and policy allows
    (only when update.enabled is true).

    Args:
        config_file: a config.yaml to read instead of the default places.
        docker_host_block: the name of a DockerHost block whose engine to update instead.
    """
    started = time.monotonic()
    settings = load_settings(config_file)
    if not settings.update.enabled:
        get_run_logger().info("update.enabled is false: nothing is updated")
        return UpdateReport(results=[])
    report = run_update(settings, None, False, config_file, False, docker_host_block)
    _publish(report)
    _record(settings, report, started)
    return report
