"""The logs stream's source: a container's followed output (the last `tail` lines first), cut
into lines, each message the lines that came while the loop was busy sending the previous
one, `{"type": "log", "data": {"lines": [{"stream": "stdout" | "stderr", "line"}, ...]}}`
(a burst of output is a few messages, not one per line; a quiet container's line goes out at
once); it ends when the container's output does (the container stopped or was removed)."""

from __future__ import annotations

import threading

from watchdocker.api.context import ApiContext
from watchdocker.engine import live
from watchdocker.log_lines import LineCutter, LogLine
from watchdocker.streams.engine_clients import stream_client
from watchdocker.streams.status import message
from watchdocker.streams.threads import Feed, ThreadSource


class _Batch:
    """Lines the reading thread added since the loop last sent them."""

    def __init__(self, feed: Feed) -> None:
        self._feed = feed
        self._lines: list[LogLine] = []
        self._lock = threading.Lock()

    def add(self, lines: list[LogLine]) -> None:
        if not lines:
            return
        with self._lock:
            first = not self._lines
            self._lines += lines
        if first:  # one hand-over to the loop per batch
            self._feed.on_loop(self._flush)

    def _flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        self._feed.publish_now(message("log", {"lines": lines}))


def _produce(context: ApiContext, container_id: str, tail: int, feed: Feed) -> str:
    engine = stream_client(context.settings)
    try:
        frames = live.followed_logs(engine, container_id, tail)
        if not feed.hold(frames):
            return "stopped"
        cutter, batch = LineCutter(), _Batch(feed)
        for stream_number, chunk in frames:
            batch.add(cutter.feed(stream_number, chunk))
        batch.add(cutter.flush())
        feed.release(frames)
    finally:
        engine.close()
    return "the container's output ended (it stopped or was removed)"


def logs_source(context: ApiContext, container_id: str, tail: int) -> ThreadSource:
    return ThreadSource(
        f"watchdocker-logs-{container_id[:12]}",
        lambda feed: _produce(context, container_id, tail, feed),
    )
