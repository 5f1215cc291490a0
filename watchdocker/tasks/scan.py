"""Prefect tasks of the scan: thin wrappers over discovery and the registry client.

Digest lookups are cached through Prefect's task cache with persisted results, so a second
scheduled scan within `scan.cacheTTL`, in a new process or on another host sharing the result
storage, asks the registry nothing (a run a person started asks afresh: watchdocker.freshness).
Errors are cached too, but only for `scan.errorTTL` (see the flow)."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta
from typing import Any

import docker
from prefect import task
from prefect.cache_policies import NO_CACHE, CachePolicy
from prefect.context import TaskRunContext
from prefect.logging import get_run_logger

from watchdocker.container_status import DigestResolution
from watchdocker.engine.discovery import ContainerInfo, discover_containers
from watchdocker.logs import elapsed_ms, log_event
from watchdocker.reference import ImageReference
from watchdocker.registry.client import RegistryClient
from watchdocker.registry.errors import RegistryError, ScanTimedOut
from watchdocker.registry.manifests import Platform

# Content addressed by digest never changes; the week only bounds the cache's growth.
PLATFORM_CACHE_EXPIRATION = timedelta(days=7)


def _key(prefix: str, *parts: str) -> str:
    return prefix + "-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


def digest_cache_key(_: TaskRunContext, parameters: dict[str, Any]) -> str:
    return _key("watchdocker-digest", parameters["reference"])


def platform_cache_key(_: TaskRunContext, parameters: dict[str, Any]) -> str:
    return _key(
        "watchdocker-platform",
        parameters["repository"],
        parameters["digest"],
        parameters["platform"],
    )


@task(name="discover-containers", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def discover_containers_task(
    engine: docker.DockerClient, include_stopped: bool, names: list[str] | None = None
) -> list[ContainerInfo]:
    started = time.perf_counter()
    found = discover_containers(engine, include_stopped, names)
    log_event(
        get_run_logger(),
        logging.INFO,
        f"found {len(found)} containers",
        component="scan",
        action="discover",
        durationMs=elapsed_ms(started),
    )
    return found


@task(
    name="resolve-remote-digest",
    task_run_name="resolve {reference}",
    # A policy rather than cache_key_fn, so that with_options(cache_policy=NO_CACHE) replaces it.
    cache_policy=CachePolicy.from_cache_key_fn(digest_cache_key),
    persist_result=True,
    result_serializer="json",
)
def resolve_remote_digest(reference: str, registry: RegistryClient) -> DigestResolution:
    """The digest `reference` (name:tag) points at in its registry; a registry failure is the
    answer's `error`, so one bad registry never fails the scan. Raises ScanTimedOut, which is
    no answer and so must not be cached."""
    logger = get_run_logger()
    started = time.perf_counter()
    try:
        remote = registry.resolve_digest(ImageReference.parse(reference))
    except ScanTimedOut:
        raise
    except RegistryError as exc:
        log_event(
            logger,
            logging.WARNING,
            "registry lookup failed",
            component="registry",
            action="resolve",
            image=reference,
            err=str(exc),
            durationMs=elapsed_ms(started),
        )
        return DigestResolution(reference=reference, error=str(exc), resolved_at=time.time())
    log_event(
        logger,
        logging.INFO,
        "resolved",
        component="registry",
        action="resolve",
        image=reference,
        digest=remote.digest,
        durationMs=elapsed_ms(started),
    )
    return DigestResolution(
        reference=reference,
        digest=remote.digest,
        media_type=remote.media_type,
        is_index=remote.is_index,
        resolved_at=time.time(),
    )


@task(
    name="resolve-platform-image",
    task_run_name="platform {platform} of {repository}",
    cache_policy=CachePolicy.from_cache_key_fn(platform_cache_key),
    cache_expiration=PLATFORM_CACHE_EXPIRATION,
    persist_result=True,
    result_serializer="json",
)
def resolve_platform_image(
    repository: str, digest: str, platform: str, registry: RegistryClient
) -> str:
    """The image ID `platform` gets from `repository@digest`. Raises RegistryError: a failure
    here is not cached, unlike the digest lookup."""
    started = time.perf_counter()
    ref = ImageReference.parse(f"{repository}@{digest}")
    config = registry.platform_config_digest(ref, digest, Platform.parse(platform))
    log_event(
        get_run_logger(),
        logging.INFO,
        "platform image",
        component="registry",
        action="platform",
        image=repository,
        digest=config,
        durationMs=elapsed_ms(started),
    )
    return config
