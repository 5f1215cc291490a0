"""Whether a scan asks the registry afresh or may reuse cached digests: a plain rule of what
started the run.

The digest cache (`scan.cacheTTL`) is for the schedules and the fleet. A person who pushed an
image and then runs `scan` or `update` (CLI, a manual run of a deployment) must see the registry
as it is now; their fresh answers are stored in the cache for the scheduled runs that follow."""

from __future__ import annotations


def asks_registry_afresh(requested: bool | None, auto_scheduled: bool) -> bool:
    """`requested`: what a parent run decided for its sub-flow (None: decide from this run).
    `auto_scheduled`: Prefect's scheduler created this run from a deployment's schedule."""
    if requested is not None:
        return requested
    return not auto_scheduled
