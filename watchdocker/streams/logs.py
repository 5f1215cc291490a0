"""The logs stream's source: a container's followed output (the last `tail` lines first), cut
into lines, each message `{"type": "log", "data": {"stream": "stdout" | "stderr", "line"}}`;
it ends when the container's output does (the container stopped or was removed)."""

from __future__ import annotations

from watchdocker.api.context import ApiContext
from watchdocker.engine import live
from watchdocker.log_lines import LineCutter, LogLine
from watchdocker.streams.engine_clients import stream_client
from watchdocker.streams.status import message
from watchdocker.streams.threads import Feed, ThreadSource


def _send(feed: Feed, lines: list[LogLine]) -> None:
    for line in lines:
        feed.send(message("log", line.model_dump()))


def _produce(context: ApiContext, container_id: str, tail: int, feed: Feed) -> str:
    engine = stream_client(context.settings)
    try:
        frames = live.followed_logs(engine, container_id, tail)
        if not feed.hold(frames):
            return "stopped"
        cutter = LineCutter()
        for stream_number, chunk in frames:
            _send(feed, cutter.feed(stream_number, chunk))
        _send(feed, cutter.flush())
        feed.release(frames)
    finally:
        engine.close()
    return "the container's output ended (it stopped or was removed)"


def logs_source(context: ApiContext, container_id: str, tail: int) -> ThreadSource:
    return ThreadSource(
        f"watchdocker-logs-{container_id[:12]}",
        lambda feed: _produce(context, container_id, tail, feed),
    )
