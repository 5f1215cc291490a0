"""Registry failures, worded for the person reading a scan table: what failed and what to check."""

from __future__ import annotations


class RegistryError(Exception):
    """A registry could not give an answer. `registry` is the host; the message never holds
    credentials or tokens."""

    def __init__(self, registry: str, message: str, *, retriable: bool = False) -> None:
        super().__init__(f"registry {registry}: {message}")
        self.registry = registry
        self.retriable = retriable


class Unanswered(RegistryError):
    """The registry did not answer in time or could not be reached."""


class RateLimited(RegistryError):
    def __init__(self, registry: str, retry_after: float | None, *, retriable: bool = True) -> None:
        wait = f"; it asks to wait {retry_after:g}s" if retry_after is not None else ""
        super().__init__(
            registry, f"rate limited (429 Too Many Requests){wait}", retriable=retriable
        )
        self.retry_after = retry_after


class ScanTimedOut(RegistryError):
    """The scan's time ran out before this lookup finished: nothing was learnt about the
    registry, so it is not kept as its answer."""
