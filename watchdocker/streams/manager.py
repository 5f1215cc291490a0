"""The stream manager (seed §3.9 StreamManager): one source per stream key, shared by every
subscriber of that key. The first subscriber starts the source, the last to leave stops it. A
source's messages are fanned out to a bounded queue per subscriber; a subscriber whose queue is
full (a client that reads too slowly, or not at all) is dropped rather than waited for, so it
never delays the others. Everything here runs on the API's event loop: sources hand their
messages over with `loop.call_soon_threadsafe` (`streams/threads.py`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from watchdocker.logs import log_event

log = logging.getLogger("watchdocker.api.streams")

# How far behind a subscriber may fall (messages not yet handed to its socket) before it is
# dropped: 4 MB, so that a stalled client holds little memory while one that reads takes a
# burst of output (a log's tail, a chatty container) whole; and a count, for tiny messages.
QUEUE_SIZE = 10000
QUEUE_BYTES = 4 << 20


@dataclass(frozen=True)
class Ended:
    """The last item of a subscription: why it ends, and the WebSocket close code that says so."""

    reason: str
    code: int = 1000


DROPPED = Ended("too slow: the client read too little of the stream", 1008)


class Source(Protocol):
    """What feeds a stream. `start` and `stop` are called on the loop and must not block;
    `publish` and `end` too are to be called on the loop."""

    def start(self, publish: Callable[[str], None], end: Callable[[str], None]) -> None: ...

    def stop(self) -> None: ...


class Subscription:
    """One subscriber's place in a stream: the messages (JSON text) not yet sent, then Ended."""

    def __init__(self, manager: StreamManager, key: str, size: int, max_bytes: int) -> None:
        self.key = key
        self._manager = manager
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0
        # Unbounded underneath so that Ended always fits; `offer` keeps the bound.
        self._queue: asyncio.Queue[str | Ended] = asyncio.Queue()
        self.ended: Ended | None = None
        self.dropped = asyncio.Event()  # set at once, where Ended waits behind the queue

    def offer(self, message: str) -> bool:
        """False when the queue is full (the subscriber is then to be dropped)."""
        if self.ended is not None:
            return True
        if self._queue.qsize() >= self._size or self._bytes + len(message) > self._max_bytes:
            return False
        self._bytes += len(message)
        self._queue.put_nowait(message)
        return True

    def finish(self, ended: Ended) -> None:
        if self.ended is None:
            self.ended = ended
            self._queue.put_nowait(ended)
            if ended is DROPPED:
                self.dropped.set()

    async def next(self) -> str | Ended:
        item = await self._queue.get()
        if isinstance(item, str):
            self._bytes -= len(item)
        return item

    def leave(self) -> None:
        self._manager.leave(self)


class _Stream:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.subscribers: set[Subscription] = set()


class StreamManager:
    def __init__(self, queue_size: int = QUEUE_SIZE, queue_bytes: int = QUEUE_BYTES) -> None:
        self._queue_size = queue_size
        self._queue_bytes = queue_bytes
        self._streams: dict[str, _Stream] = {}

    def subscribe(self, key: str, make_source: Callable[[], Source]) -> Subscription:
        """Joins the stream `key`, starting its source (made by `make_source`) if none runs."""
        subscription = Subscription(self, key, self._queue_size, self._queue_bytes)
        stream = self._streams.get(key)
        if stream is not None:
            stream.subscribers.add(subscription)
            return subscription
        stream = self._streams[key] = _Stream(make_source())
        stream.subscribers.add(subscription)
        stream.source.start(
            lambda message: self._publish(key, stream, message),
            lambda reason: self._end(key, stream, Ended(reason)),
        )
        return subscription

    def leave(self, subscription: Subscription) -> None:
        stream = self._streams.get(subscription.key)
        if stream is None or subscription not in stream.subscribers:
            return
        stream.subscribers.discard(subscription)
        if not stream.subscribers:
            del self._streams[subscription.key]
            stream.source.stop()

    def active(self) -> dict[str, int]:
        """Stream key -> subscribers, for tests and logs."""
        return {key: len(stream.subscribers) for key, stream in self._streams.items()}

    def _publish(self, key: str, stream: _Stream, message: str) -> None:
        if self._streams.get(key) is not stream:
            return  # a message still in flight from a source that was stopped
        for subscription in list(stream.subscribers):
            if not subscription.offer(message):
                log_event(log, logging.INFO, "too slow: dropped", component="streams", action=key)
                subscription.finish(DROPPED)
                self.leave(subscription)

    def _end(self, key: str, stream: _Stream, ended: Ended) -> None:
        """The source ended by itself (a container's output closed): every subscriber is told,
        and the next one starts a new source."""
        if self._streams.get(key) is stream:
            del self._streams[key]
            stream.source.stop()
        for subscription in list(stream.subscribers):
            subscription.finish(ended)
        stream.subscribers.clear()
