"""The stats stream's source: one Docker stats stream per running container (a thread each,
shared by every subscriber), and every 2 s one message with the latest figures of all of them:
`{"type": "stats", "data": {"containers": [{id, name, cpuPercent, memoryUsage, memoryLimit,
networkRxRate, networkTxRate}]}}`. Containers that start or stop are picked up at the next
tick."""

from __future__ import annotations

import logging
import threading
import time

from watchdocker.api.context import ApiContext
from watchdocker.container_stats import ContainerStats, Sample, container_stats, sample
from watchdocker.engine import live
from watchdocker.engine.inventory import live_containers
from watchdocker.streams.engine_clients import stream_client
from watchdocker.streams.status import message
from watchdocker.streams.threads import Feed, ThreadSource

log = logging.getLogger("watchdocker.api.streams")

TICK_SECONDS = 2.0


class _ContainerReader:
    """One container's stats stream, read in a thread; keeps its last two samples."""

    def __init__(self, context: ApiContext, feed: Feed, container_id: str, name: str) -> None:
        self.id = container_id
        self.name = name
        self._context = context
        self._feed = feed
        self._lock = threading.Lock()
        self._samples: tuple[Sample | None, Sample | None] = (None, None)
        self.done = False
        threading.Thread(
            target=self._read, name=f"watchdocker-stats-{container_id[:12]}", daemon=True
        ).start()

    def _read(self) -> None:
        engine = stream_client(self._context.settings)
        try:
            stream = live.container_stats(engine, self.id)
            if self._feed.hold(stream):
                for stats in stream:
                    if stats.get("read", "").startswith("0001"):
                        continue  # the container stopped: an empty sample
                    now = sample(stats, time.monotonic())
                    with self._lock:
                        self._samples = (self._samples[1], now)
                self._feed.release(stream)
        except Exception as exc:  # the container went: the next tick forgets it
            log.debug("stats of %s: %s", self.name, exc)
        finally:
            engine.close()
            self.done = True

    def figures(self) -> ContainerStats | None:
        with self._lock:
            before, now = self._samples
        return container_stats(self.id, self.name, now, before) if now else None


def _tick(context: ApiContext, feed: Feed, readers: dict[str, _ContainerReader]) -> None:
    running = live_containers(context.engine.api.containers())
    ids = {c.id for c in running}
    for gone in [i for i, reader in readers.items() if i not in ids or reader.done]:
        del readers[gone]  # its stream ended with the container
    for container in running:
        if container.id not in readers:
            readers[container.id] = _ContainerReader(context, feed, container.id, container.name)
    figures = [f for reader in readers.values() if (f := reader.figures()) is not None]
    feed.send(message("stats", {"containers": [f.model_dump() for f in figures]}))


def _produce(context: ApiContext, feed: Feed) -> str:
    readers: dict[str, _ContainerReader] = {}
    while True:
        try:
            _tick(context, feed, readers)
        except Exception as exc:  # the engine is away: try again at the next tick
            log.debug("stats tick: %s", exc)
        if feed.stopping.wait(TICK_SECONDS):
            return "stopped"


def stats_source(context: ApiContext) -> ThreadSource:
    return ThreadSource("watchdocker-stats", lambda feed: _produce(context, feed))
