"""Total time limits for registry requests, lookups and scans, held even against a registry that
sends a byte every few seconds.

httpx's timeouts bound each socket operation, and a read timeout starts again with every chunk.
Here every socket operation gets only what is left of the calling thread's innermost deadline
(a context variable), so a limit holds from the connect to the last byte."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point in `time.monotonic()` and what passing it means, worded for a scan table."""

    at: float
    message: str
    retriable: bool = False

    @classmethod
    def after(cls, seconds: float, message: str, *, retriable: bool = False) -> Deadline:
        return cls(time.monotonic() + seconds, message, retriable)

    def left(self) -> float:
        return self.at - time.monotonic()


_innermost: ContextVar[Deadline | None] = ContextVar("watchdocker_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline that binds the calling thread now: the earliest of those it runs under."""
    return _innermost.get()


@contextmanager
def within(deadline: Deadline | None) -> Iterator[None]:
    """Runs the block under `deadline`, or under the enclosing one when that comes first."""
    outer = _innermost.get()
    if deadline is None or (outer is not None and outer.at <= deadline.at):
        yield
        return
    token = _innermost.set(deadline)
    try:
        yield
    finally:
        _innermost.reset(token)


def _bounded(timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
    deadline = _innermost.get()
    if deadline is None:
        return timeout
    left = deadline.left()
    if left <= 0:
        raise expired(deadline.message)
    return left if timeout is None else min(timeout, left)


class _BoundedStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _BoundedBackend(httpcore.SyncBackend):
    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(
            super().connect_tcp(host, port, bounded, local_address, socket_options)
        )


class BoundedTransport(httpx.HTTPTransport):
    """httpx's own transport, whose requests end by the calling thread's deadline."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # httpx offers no parameter for httpcore's network backend; its pool reads this
        # attribute for every new connection.
        self._pool._network_backend = _BoundedBackend()
