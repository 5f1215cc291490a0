"""Prefect tasks of an update: recover, pull (retried: harmless), replace (never retried: a
half-done replacement is rolled back, not repeated)."""

from __future__ import annotations

import logging
import time

import docker
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.logging import get_run_logger

from watchdocker.logs import elapsed_ms, log_event
from watchdocker.reference import ImageReference
from watchdocker.registry.credentials import CredentialStore
from watchdocker.update.pull import pull_by_digest
from watchdocker.update.updater import RecoveryResult, ReplaceResult, Updater

UPDATE_SLOTS = "watchdocker-updates"
SLOT_LEASE_SECONDS = 60


@task(name="recover-interrupted-updates", cache_policy=NO_CACHE)
def recover_interrupted_updates(updater: Updater) -> list[RecoveryResult]:
    recovered = updater.recover()
    logger = get_run_logger()
    for item in recovered:
        failed = item.outcome == "failed"
        log_event(
            logger,
            logging.ERROR if failed else logging.WARNING,
            "recovering an interrupted update failed, left for the next run"
            if failed
            else f"interrupted update {item.outcome}",
            component="update",
            action="recover",
            container=item.name,
            err=item.reason or None,
        )
    return recovered


@task(
    name="pull-image",
    task_run_name="pull {image}",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=5,
)
def pull_image(image: str, digest: str, api: docker.APIClient, credentials: CredentialStore) -> str:
    started = time.perf_counter()
    reference = ImageReference.parse(image)
    image_id = pull_by_digest(api, reference, digest, credentials.lookup(reference.registry))
    log_event(
        get_run_logger(),
        logging.INFO,
        "pulled",
        component="update",
        action="pull",
        image=image,
        digest=digest,
        durationMs=elapsed_ms(started),
    )
    return image_id


@task(name="replace-container", task_run_name="replace {name}", cache_policy=NO_CACHE)
def replace_container(
    name: str, container_id: str, new_image_id: str, image: str, updater: Updater
) -> ReplaceResult:
    """Stop, recreate, check health, remove the old one or roll back; holds one of the
    `watchdocker-updates` slots (update.concurrency, across runs) meanwhile."""
    started = time.perf_counter()
    # The lease is renewed while the update runs; a killed process's slot frees itself after it.
    with concurrency(UPDATE_SLOTS, occupy=1, strict=False, lease_duration=SLOT_LEASE_SECONDS):
        result = updater.replace(name, container_id, new_image_id, image)
    _log_replaced(result, started)
    return result


def _log_replaced(result: ReplaceResult, started: float) -> None:
    """The replacement's outcome in the run's log, and the new container's last lines when it
    was rolled back or failed."""
    logger = get_run_logger()
    level = {"updated": logging.INFO, "skipped": logging.WARNING}.get(result.result, logging.ERROR)
    log_event(
        logger,
        level,
        result.result.replace("_", " "),
        component="update",
        action="replace",
        container=result.name,
        image=result.image,
        digest=result.new_image_id,
        durationMs=elapsed_ms(started),
        err=result.reason or None,
    )
    if result.new_logs:
        logger.error(
            "last log lines of the new container %s:\n%s",
            result.name,
            "\n".join(result.new_logs),
        )


@task(name="replace-compose-project", task_run_name="replace {project}", cache_policy=NO_CACHE)
def replace_compose_project(
    project: str, items: list[tuple[str, str, str, str]], updater: Updater
) -> list[ReplaceResult]:
    """A compose project's containers (`Updater.replace_project`), together, holding one of
    the `watchdocker-updates` slots meanwhile."""
    started = time.perf_counter()
    with concurrency(UPDATE_SLOTS, occupy=1, strict=False, lease_duration=SLOT_LEASE_SECONDS):
        results = updater.replace_project(items)
    for result in results:
        _log_replaced(result, started)
    return results
