"""The registry lookups of a scan in plain Python: each distinct reference's digest, then each
platform's image, all at once in threads (the registry client lets `scan.concurrency` of them
talk to registries at a time). The scan flow runs them as two task runs, with Prefect's result
store as the digest cache (`tasks/scan.py`); the CLI without serve runs them in this process."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from watchdocker.container_status import (
    CheckPlan,
    ContainerStatus,
    DigestResolution,
    PlatformAnswer,
    PlatformLookup,
    distinct_references,
    judge_all,
    platform_lookups,
)
from watchdocker.logs import elapsed_ms, log_event
from watchdocker.reference import ImageReference
from watchdocker.registry.client import RegistryClient
from watchdocker.registry.errors import RegistryError, ScanTimedOut
from watchdocker.registry.manifests import Platform

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Logger = logging.Logger | logging.LoggerAdapter
DigestLookups = Callable[[list[str]], Mapping[str, DigestResolution]]
PlatformLookups = Callable[[list[PlatformLookup]], Mapping[PlatformLookup, PlatformAnswer]]
# Threads only wait on sockets; the registry client's slots bound the requests.
MAX_THREADS = 16


def judge_plans(
    plans: Sequence[CheckPlan], digests: DigestLookups, platforms: PlatformLookups
) -> list[ContainerStatus]:
    """One status per plan: the digests of its distinct references, then the platform images
    that multi-platform answers call for, then the judgement."""
    answers = digests(distinct_references(plans))
    return judge_all(plans, answers, platforms(platform_lookups(plans, answers)))


def concurrently(call: Callable[[K], V], keys: Iterable[K]) -> dict[K, V | RegistryError]:
    """`call(key)` for every key at once; a RegistryError it raises is that key's answer."""
    keys = list(keys)
    if not keys:
        return {}

    def answer(key: K) -> V | RegistryError:
        try:
            return call(key)
        except RegistryError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(len(keys), MAX_THREADS)) as pool:
        return dict(zip(keys, pool.map(answer, keys), strict=True))


def resolve_reference(reference: str, registry: RegistryClient, logger: Logger) -> DigestResolution:
    """The digest `reference` (name:tag) points at in its registry; a registry failure is the
    answer's `error`, so one bad registry never fails the scan. Raises ScanTimedOut, which is
    no answer and so must not be cached."""
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


def digest_answer(reference: str, asked: DigestResolution | RegistryError) -> DigestResolution:
    """What `concurrently(resolve_reference, ...)` gave, as an answer (a timeout's error)."""
    if isinstance(asked, RegistryError):
        return DigestResolution(reference=reference, error=str(asked), resolved_at=time.time())
    return asked


def resolve_platform(lookup: PlatformLookup, registry: RegistryClient, logger: Logger) -> str:
    """The image ID `platform` gets from `repository@digest`. Raises RegistryError."""
    repository, digest, platform = lookup
    started = time.perf_counter()
    ref = ImageReference.parse(f"{repository}@{digest}")
    config = registry.platform_config_digest(ref, digest, Platform.parse(platform))
    log_event(
        logger,
        logging.INFO,
        "platform image",
        component="registry",
        action="platform",
        image=repository,
        digest=config,
        durationMs=elapsed_ms(started),
    )
    return config


def platform_answer(asked: str | RegistryError) -> PlatformAnswer:
    if isinstance(asked, RegistryError):
        return PlatformAnswer(error=str(asked))
    return PlatformAnswer(config=asked)


def ask_digests(registry: RegistryClient, logger: Logger) -> DigestLookups:
    """Digest lookups straight from the registries (no cache)."""

    def digests(references: list[str]) -> dict[str, DigestResolution]:
        asked = concurrently(lambda ref: resolve_reference(ref, registry, logger), references)
        return {ref: digest_answer(ref, answer) for ref, answer in asked.items()}

    return digests


def ask_platforms(registry: RegistryClient, logger: Logger) -> PlatformLookups:
    """Platform lookups straight from the registries (no cache)."""

    def platforms(lookups: list[PlatformLookup]) -> dict[PlatformLookup, PlatformAnswer]:
        asked = concurrently(lambda key: resolve_platform(key, registry, logger), lookups)
        return {key: platform_answer(answer) for key, answer in asked.items()}

    return platforms
