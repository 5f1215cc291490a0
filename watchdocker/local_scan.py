"""A scan in this process, with no Prefect at all: what `watch-docker scan` does when no serve
runs (read-only, so nothing needs recording). The same discovery, policy, lookups and
judgement as the scan flow; registry credentials from the settings and Docker's config.json
(the `DockerRegistryCredentials` blocks live on a Prefect server), and no digest cache."""

from __future__ import annotations

import logging

from watchdocker.config import Settings
from watchdocker.container_status import ScanReport, plan_check
from watchdocker.engine.client import connect
from watchdocker.engine.discovery import discover_containers
from watchdocker.lookups import ask_digests, ask_platforms, judge_plans
from watchdocker.registry.client import RegistryClient
from watchdocker.registry.credentials import (
    CredentialStore,
    DockerConfigCredentials,
    configured_credentials,
)

log = logging.getLogger("watchdocker.scan")


def registry_client(settings: Settings, store: CredentialStore) -> RegistryClient:
    """A registry client with the settings' timeouts, retries and concurrency."""
    return RegistryClient(
        store,
        insecure=settings.registry.insecure,
        timeout=settings.registry.timeout.total_seconds(),
        retries=settings.registry.retries,
        concurrency=settings.scan.concurrency,
        scan_timeout=settings.scan.timeout.total_seconds(),
    )


def scan_here(settings: Settings, include_stopped: bool | None = None) -> ScanReport:
    """Raises EngineUnavailable when the engine cannot be reached."""
    if include_stopped is None:
        include_stopped = settings.docker.include_stopped
    engine = connect(settings.docker.host)
    try:
        containers = discover_containers(engine, include_stopped)
    finally:
        engine.close()
    plans = [plan_check(c, settings.policy) for c in containers]
    store = CredentialStore(
        configured_credentials(settings.registry.auth), DockerConfigCredentials()
    )
    with registry_client(settings, store) as registry:
        statuses = judge_plans(plans, ask_digests(registry, log), ask_platforms(registry, log))
    return ScanReport(containers=statuses)
