"""A stream source whose producer blocks (docker-py's event, stats and log streams): it runs
in a thread of its own and hands each message to the event loop with
`loop.call_soon_threadsafe`. Stopping it closes what the producer is blocked reading (the
engine's response, through `Feed.hold`), so the thread ends at once rather than at the next
message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

log = logging.getLogger("watchdocker.api.streams")


class Closeable(Protocol):
    def close(self) -> None: ...


class Feed:
    """What a producer gets: `send` a message, `stopping` to look at, `hold` what to close."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        publish: Callable[[str], None],
        end: Callable[[str], None],
    ) -> None:
        self._loop = loop
        self._publish = publish
        self._end = end
        self.stopping = threading.Event()
        self._held: set[Closeable] = set()
        self._lock = threading.Lock()

    def send(self, message: str) -> None:
        self._call(self._publish, message)

    def finish(self, reason: str) -> None:
        if not self.stopping.is_set():
            self._call(self._end, reason)

    def _call(self, function: Callable[[str], None], text: str) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: serve is stopping
            self._loop.call_soon_threadsafe(function, text)

    def on_loop(self, function: Callable[[], None]) -> None:
        """`function()` on the loop, soon."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(function)

    def publish_now(self, message: str) -> None:
        """`send`, from the loop itself."""
        self._publish(message)

    def hold(self, stream: Closeable) -> bool:
        """Registers a stream `stop` closes; False (and closed at once) when stopping already."""
        with self._lock:
            if not self.stopping.is_set():
                self._held.add(stream)
                return True
        _close(stream)
        return False

    def release(self, stream: Closeable) -> None:
        with self._lock:
            self._held.discard(stream)
        _close(stream)

    def stop(self) -> None:
        with self._lock:
            self.stopping.set()
            held, self._held = self._held, set()
        for stream in held:
            _close(stream)


def _close(stream: Closeable) -> None:
    try:
        stream.close()
    except Exception as exc:  # already closed by the engine, or the engine is gone
        log.debug("closing a stream: %s", exc)


Producer = Callable[[Feed], str]  # runs until its output ends (returns why) or stopping


class ThreadSource:
    def __init__(self, name: str, produce: Producer) -> None:
        self._name = name
        self._produce = produce
        self._feed: Feed | None = None

    def start(self, publish: Callable[[str], None], end: Callable[[str], None]) -> None:
        self._feed = Feed(asyncio.get_running_loop(), publish, end)
        threading.Thread(target=self._run, args=(self._feed,), name=self._name, daemon=True).start()

    def _run(self, feed: Feed) -> None:
        try:
            reason = self._produce(feed)
        except Exception as exc:
            log.warning("stream %s failed: %s", self._name, exc)
            reason = f"the stream failed: {exc}"
        feed.finish(reason)

    def stop(self) -> None:
        if self._feed is not None:
            self._feed.stop()


T = TypeVar("T")


async def in_thread(function: Callable[[], T], name: str) -> T:
    """`function()` in a short-lived thread of its own, awaited: a blocking engine call of a
    stream that leaves no pooled thread behind once it is done."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not done.cancelled():
            outcome()

    def run() -> None:
        try:
            result = function()
        except BaseException as exc:
            error = exc
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, lambda: done.set_exception(error))
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, lambda: done.set_result(result))

    threading.Thread(target=run, name=name, daemon=True).start()
    return await done
