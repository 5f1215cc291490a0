"""What a flow run talks to, built from the settings: registries (with every credential
source, in the documented order), the Docker engine, and the updater with its journal."""

from __future__ import annotations

import docker

from watchdocker.blocks.registry_credentials import registry_credential_blocks
from watchdocker.config import Settings
from watchdocker.engine.client import EngineUnavailable, connect
from watchdocker.local_scan import registry_client
from watchdocker.registry.client import RegistryClient
from watchdocker.registry.credentials import (
    CredentialStore,
    DockerConfigCredentials,
    configured_credentials,
)
from watchdocker.stacks.compose_cli import ComposeCli
from watchdocker.update.compose_update import ComposeUpdater
from watchdocker.update.journal import Journal, journal_root
from watchdocker.update.updater import HealthPolicy, StepHook, Updater


def credential_store_for(settings: Settings) -> CredentialStore:
    return CredentialStore(
        configured_credentials(settings.registry.auth) + registry_credential_blocks(),
        DockerConfigCredentials(),
    )


def registry_client_for(settings: Settings, store: CredentialStore | None = None) -> RegistryClient:
    return registry_client(settings, store or credential_store_for(settings))


def engine_for(settings: Settings, docker_host_block: str | None = None) -> docker.DockerClient:
    """The engine of a `DockerHost` block when one is named, else of the settings."""
    if docker_host_block:
        from watchdocker.blocks.docker_host import load_docker_host

        host = load_docker_host(docker_host_block)
        if host.timeout is None:
            host.timeout = 300
        client = host.get_client()
        try:
            client.ping()
        except docker.errors.DockerException as exc:
            raise EngineUnavailable(
                f"cannot reach the Docker engine of block {docker_host_block!r}: {exc}"
            ) from None
        return client
    # Stopping a container waits for its stop timeout: allow long API calls.
    return connect(settings.docker.host, timeout=300)


def updater_for(
    settings: Settings,
    engine: docker.DockerClient,
    on_step: StepHook | None = None,
    *,
    through_compose: bool = True,
) -> Updater:
    """One journal directory per engine, so one state directory can serve several hosts.
    `on_step`: see StepHook (the crash tests' driver; flows and commands pass none).
    `through_compose`: compose services updated by compose, which reaches the engine of the
    settings only (not a `DockerHost` block's)."""
    journal = Journal(journal_root(settings.state_dir) / engine.info()["ID"].replace(":", "_"))
    health = HealthPolicy(
        timeout=settings.update.health_timeout.total_seconds(),
        stable_seconds=settings.update.stable_seconds.total_seconds(),
    )
    return Updater(
        engine.api,
        journal,
        health,
        remove_old=settings.update.remove_old_container,
        cleanup=settings.update.cleanup,
        rollback_restart_window=settings.update.rollback_restart_window.total_seconds(),
        policy=settings.policy,
        on_step=on_step,
        compose=ComposeUpdater(engine.api, journal, lambda: ComposeCli.from_settings(settings))
        if through_compose
        else None,
    )
