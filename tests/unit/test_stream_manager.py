"""The stream manager with a fake source: fan-out of one source to every subscriber, the last
to leave stops it, a full queue drops only its own subscriber, and a source that ends tells
every subscriber; and a blocking source in a thread hands its messages to the loop and ends
when stopped."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from watchdocker.streams.manager import DROPPED, Ended, StreamManager
from watchdocker.streams.threads import Feed, ThreadSource, in_thread


class FakeSource:
    def __init__(self) -> None:
        self.started = 0
        self.stopped = 0
        self.publish: Callable[[str], None] = lambda _: None
        self.end: Callable[[str], None] = lambda _: None

    def start(self, publish: Callable[[str], None], end: Callable[[str], None]) -> None:
        self.started += 1
        self.publish, self.end = publish, end

    def stop(self) -> None:
        self.stopped += 1


def drain(subscription) -> list[str | Ended]:
    items = []
    while not subscription._queue.empty():
        items.append(subscription._queue.get_nowait())
    return items


async def _fan_out() -> None:
    manager = StreamManager()
    made: list[FakeSource] = []

    def make() -> FakeSource:
        made.append(FakeSource())
        return made[-1]

    first, second = manager.subscribe("k", make), manager.subscribe("k", make)
    assert len(made) == 1 and made[0].started == 1  # one source for both
    made[0].publish("a")
    made[0].publish("b")
    assert drain(first) == ["a", "b"] and drain(second) == ["a", "b"]
    first.leave()
    assert made[0].stopped == 0 and manager.active() == {"k": 1}
    second.leave()
    assert made[0].stopped == 1 and manager.active() == {}
    made[0].publish("late")  # in flight from a stopped source: nobody gets it
    third = manager.subscribe("k", make)
    assert len(made) == 2 and drain(third) == []


def test_one_source_for_every_subscriber_stopped_by_the_last_to_leave():
    asyncio.run(_fan_out())


async def _drop() -> None:
    manager = StreamManager(queue_size=3)
    source = FakeSource()
    slow, fast = manager.subscribe("k", lambda: source), manager.subscribe("k", lambda: source)
    for n in range(3):
        source.publish(str(n))
    drain(fast)
    source.publish("3")  # slow's queue is full: it is dropped, fast gets it
    assert slow.ended is DROPPED and slow.dropped.is_set()
    assert drain(slow) == ["0", "1", "2", DROPPED]
    assert drain(fast) == ["3"]
    assert manager.active() == {"k": 1} and source.stopped == 0
    fast.leave()
    assert source.stopped == 1
    # Bounded in bytes too.
    manager = StreamManager(queue_size=100, queue_bytes=10)
    source = FakeSource()
    big = manager.subscribe("k", lambda: source)
    source.publish("x" * 6)
    source.publish("y" * 6)
    assert big.ended is DROPPED


def test_a_full_queue_drops_its_subscriber_only():
    asyncio.run(_drop())


async def _source_ends() -> None:
    manager = StreamManager()
    source = FakeSource()
    one, two = manager.subscribe("k", lambda: source), manager.subscribe("k", lambda: source)
    source.publish("last line")
    source.end("the output ended")
    assert drain(one) == ["last line", Ended("the output ended")]
    assert drain(two) == ["last line", Ended("the output ended")]
    assert source.stopped == 1 and manager.active() == {}
    one.leave()  # leaving an ended stream changes nothing
    assert source.stopped == 1


def test_a_source_that_ends_tells_every_subscriber_and_is_forgotten():
    asyncio.run(_source_ends())


class Blocking:
    """A stream whose reads block until it is closed, as the engine's do."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def __iter__(self):
        yield "one"
        yield "two"
        self.closed.wait()

    def close(self) -> None:
        self.closed.set()


async def _threaded() -> None:
    manager = StreamManager()
    blocking = Blocking()

    def produce(feed: Feed) -> str:
        if feed.hold(blocking):
            for item in blocking:
                feed.send(item)
        return "ended"

    before = threading.active_count()
    sub = manager.subscribe("t", lambda: ThreadSource("test-source", produce))
    assert await asyncio.wait_for(sub.next(), 5) == "one"
    assert await asyncio.wait_for(sub.next(), 5) == "two"
    assert threading.active_count() == before + 1
    sub.leave()  # stop closes the stream the thread is blocked on
    assert blocking.closed.is_set()
    for _ in range(100):
        if threading.active_count() == before:
            break
        await asyncio.sleep(0.02)
    assert threading.active_count() == before
    assert await in_thread(lambda: 41 + 1, "test") == 42


def test_a_thread_source_hands_over_to_the_loop_and_ends_when_stopped():
    asyncio.run(_threaded())
