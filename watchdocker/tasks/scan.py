"""Prefect tasks of the scan: thin wrappers over discovery and the registry lookups.

The lookups of a scan are two task runs in all (digests, then platform images), not one per
image: each task run is several writes to the Prefect API. Their answers are kept in Prefect's
result store (the digest cache), so a second scheduled scan within `scan.cacheTTL`, in a new
process or on another host sharing the result storage, asks the registry nothing (a run a
person started asks afresh: watchdocker.freshness). Errors are kept too, but reused for
`scan.errorTTL` only."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TypeVar, cast

import docker
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.results import ResultStore, get_result_store
from prefect.types import DateTime

from watchdocker.container_status import (
    DigestResolution,
    PlatformAnswer,
    PlatformLookup,
    stale_errors,
)
from watchdocker.engine.discovery import ContainerInfo, discover_containers
from watchdocker.logs import elapsed_ms, log_event
from watchdocker.lookups import (
    concurrently,
    digest_answer,
    platform_answer,
    resolve_platform,
    resolve_reference,
)
from watchdocker.registry.client import RegistryClient
from watchdocker.registry.errors import ScanTimedOut

M = TypeVar("M")

# Content addressed by digest never changes; the week only bounds the cache's growth.
PLATFORM_CACHE_EXPIRATION = timedelta(days=7)


def _key(prefix: str, *parts: str) -> str:
    return prefix + "-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


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


def _expires(after: timedelta) -> DateTime:
    # Prefect's DateTime is a datetime; its record metadata converts one when it validates.
    return cast(DateTime, datetime.now(UTC) + after)


def _cached(store: ResultStore, key: str, model: type[M]) -> M | None:
    """The record at `key` when it is there, unexpired and a `model`."""
    try:
        record = store.read(key)
    except Exception:  # missing, unreadable or written by another version: not cached
        return None
    expiration = record.metadata.expiration
    if expiration is not None and expiration <= datetime.now(UTC):
        return None
    return record.result if isinstance(record.result, model) else None


@task(
    name="resolve-remote-digests",
    cache_policy=NO_CACHE,
    persist_result=False,  # the answers are written below, one record per reference
    result_serializer="json",  # of the result store the digest cache uses
)
def resolve_remote_digests(
    references: list[str],
    registry: RegistryClient,
    fresh: bool,
    cache_ttl: timedelta,
    error_ttl: timedelta,
) -> dict[str, DigestResolution]:
    """Every reference of a scan in one task run: from the digest cache (Prefect's result
    store) when not `fresh` and within `cache_ttl` (an error within `error_ttl` only), else
    asked at once, and the answers stored for the runs that follow (a timeout is no answer
    and is not stored). A zero `cache_ttl` is no cache."""
    started = time.time()
    store = get_result_store()
    keys = {ref: _key("watchdocker-digest", ref) for ref in references}
    answers: dict[str, DigestResolution] = {}
    if cache_ttl and not fresh:
        for ref, key in keys.items():
            found = _cached(store, key, DigestResolution)
            if found is not None:
                answers[ref] = found
        for ref in stale_errors(answers, started, error_ttl.total_seconds()):
            del answers[ref]
    logger = get_run_logger()
    missing = [ref for ref in references if ref not in answers]
    asked = concurrently(lambda ref: resolve_reference(ref, registry, logger), missing)
    for ref, answer in asked.items():
        answers[ref] = digest_answer(ref, answer)
        if cache_ttl and not isinstance(answer, ScanTimedOut):
            store.write(answers[ref], key=keys[ref], expiration=_expires(cache_ttl))
    return {ref: answers[ref] for ref in references}


@task(
    name="resolve-platform-images",
    cache_policy=NO_CACHE,
    persist_result=False,
    result_serializer="json",
)
def resolve_platform_images(
    lookups: list[PlatformLookup], registry: RegistryClient
) -> dict[PlatformLookup, PlatformAnswer]:
    """The image ID each (repository, digest, platform) gets, in one task run; content
    addressed by digest never changes, so answers are kept a week (failures are not)."""
    store = get_result_store()
    keys = {lookup: _key("watchdocker-platform", *lookup) for lookup in lookups}
    answers: dict[PlatformLookup, PlatformAnswer] = {}
    for lookup, key in keys.items():
        found = _cached(store, key, str)
        if found is not None:
            answers[lookup] = PlatformAnswer(config=found)
    logger = get_run_logger()
    missing = [lookup for lookup in lookups if lookup not in answers]
    asked = concurrently(lambda key: resolve_platform(key, registry, logger), missing)
    for lookup, answer in asked.items():
        answers[lookup] = platform_answer(answer)
        if isinstance(answer, str):
            store.write(answer, key=keys[lookup], expiration=_expires(PLATFORM_CACHE_EXPIRATION))
    return answers
