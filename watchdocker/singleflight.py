"""Merge concurrent calls for the same key into one (Go's singleflight), across threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """`do(key, fn)` runs `fn` once for callers that ask for the same key at the same time;
    the others wait and share its result or its exception. Nothing is kept afterwards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Hashable, Future[T]] = {}

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = Future()
        if not leader:
            return call.result()
        try:
            call.set_result(fn())
        except BaseException as exc:
            call.set_exception(exc)
        finally:
            with self._lock:
                del self._calls[key]
        return call.result()
