"""SingleFlight: concurrent callers of one key share one call, its result or its exception.

Followers are counted as they start to wait (a Future subclass patched into the module), and
the leader's function returns only once every follower waits, so the overlap is certain rather
than a matter of timing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest

from watchdocker import singleflight
from watchdocker.singleflight import SingleFlight

TIMEOUT = 5.0


class WaitCounter:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.waiting = 0

    def wait_for(self, count: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.waiting >= count, TIMEOUT), self.waiting


@pytest.fixture
def waiters(monkeypatch: pytest.MonkeyPatch) -> WaitCounter:
    counter = WaitCounter()

    class CountingFuture(Future):
        def result(self, timeout: float | None = None) -> Any:
            if not self.done():
                with counter.cond:
                    counter.waiting += 1
                    counter.cond.notify_all()
            return super().result(TIMEOUT if timeout is None else timeout)

    monkeypatch.setattr(singleflight, "Future", CountingFuture)
    return counter


def run_together(callers: int, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Start `callers` threads on `call`; each outcome as ("ok", value) or ("raised", exc)."""
    outcomes: list[tuple[str, Any]] = [("missing", None)] * callers
    start = threading.Barrier(callers)

    def worker(index: int) -> None:
        start.wait(TIMEOUT)
        try:
            outcomes[index] = ("ok", call())
        except BaseException as exc:
            outcomes[index] = ("raised", exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "a caller hung"
    return outcomes


@pytest.mark.parametrize("callers", [2, 8, 32])
def test_concurrent_callers_share_one_call(waiters: WaitCounter, callers: int) -> None:
    flight: SingleFlight[object] = SingleFlight()
    calls = []
    result = object()

    def fn() -> object:
        calls.append(threading.get_ident())
        waiters.wait_for(callers - 1)
        return result

    outcomes = run_together(callers, lambda: flight.do("key", fn))
    assert len(calls) == 1
    assert all(kind == "ok" and value is result for kind, value in outcomes), outcomes


@pytest.mark.parametrize("callers", [2, 8])
def test_concurrent_callers_share_one_exception(waiters: WaitCounter, callers: int) -> None:
    flight: SingleFlight[object] = SingleFlight()
    calls = []
    error = RuntimeError("registry down")

    def fn() -> object:
        calls.append(1)
        waiters.wait_for(callers - 1)
        raise error

    outcomes = run_together(callers, lambda: flight.do("key", fn))
    assert len(calls) == 1
    assert all(kind == "raised" and value is error for kind, value in outcomes), outcomes


def test_different_keys_do_not_wait_for_each_other() -> None:
    flight: SingleFlight[str] = SingleFlight()
    both_running = threading.Barrier(2)

    def fn(key: str) -> str:
        both_running.wait(TIMEOUT)  # breaks (and fails the test) if the keys were merged
        return key

    outcomes = {}

    def worker(key: str) -> None:
        outcomes[key] = flight.do(key, lambda: fn(key))

    threads = [threading.Thread(target=worker, args=(k,)) for k in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert outcomes == {"a": "a", "b": "b"}


def test_nothing_is_kept_after_a_call() -> None:
    flight: SingleFlight[int] = SingleFlight()
    counter = iter(range(10))
    assert flight.do("k", lambda: next(counter)) == 0
    assert flight.do("k", lambda: next(counter)) == 1
    assert flight._calls == {}


def test_nothing_is_kept_after_an_exception() -> None:
    flight: SingleFlight[int] = SingleFlight()

    def fail() -> int:
        raise ValueError("first")

    with pytest.raises(ValueError, match="first"):
        flight.do("k", fail)
    assert flight.do("k", lambda: 7) == 7
    assert flight._calls == {}


def test_base_exceptions_are_shared_too() -> None:
    flight: SingleFlight[int] = SingleFlight()

    def interrupted() -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        flight.do("k", interrupted)
    assert flight.do("k", lambda: 1) == 1
