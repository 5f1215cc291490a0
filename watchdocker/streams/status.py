"""The status stream's source: one subscription to the engine's container events, however many
clients watch, and a look every second at what scan and update runs left under the state
directory (the saved scan, `scan_store`; the runs' outcomes, `run_outcomes`) — those runs
happen in the Runner's subprocesses or the CLI, and these files are how they reach serve's
API. Each change becomes one message `{"type", "data"}` with the container's object of
`GET /api/containers` as data."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic_core import to_json

from watchdocker.api.context import ApiContext
from watchdocker.api.routes.containers import container_list
from watchdocker.container_events import HEALTH, change_type, health_of
from watchdocker.container_list import merge_with_live
from watchdocker.engine import live
from watchdocker.engine.inventory import live_containers
from watchdocker.run_outcomes import read_outcomes, streamed_since
from watchdocker.scan_store import load_scan, newly_available
from watchdocker.streams.engine_clients import stream_client
from watchdocker.streams.threads import Feed, ThreadSource

log = logging.getLogger("watchdocker.api.streams")

LOOK_SECONDS = 1.0  # how often the state directory is looked at
RECONNECT_SECONDS = 2.0  # after the engine's event stream broke (the engine restarted)


def message(kind: str, data: Any) -> str:
    """`{"type", "data"}` as JSON text, made once for every subscriber (models in `data` too)."""
    return to_json({"type": kind, "data": data}).decode()


def snapshot(context: ApiContext) -> str:
    """The first message of every subscriber: the list of `GET /api/containers`."""
    return message("containers", container_list(context))


def _listed(context: ApiContext) -> dict[str, dict[str, Any]]:
    """The list's objects by id; none when the engine does not answer (the change is still
    told, with what is known of it)."""
    try:
        containers = container_list(context)["containers"]
    except Exception as exc:
        log.debug("listing containers for the status stream: %s", exc)
        return {}
    return {c.id: c.model_dump() for c in containers}


def _object(context: ApiContext, container_id: str, name: str) -> dict[str, Any]:
    """The container's object of the list (asking the engine about this one container only);
    just its id and name once it is gone."""
    try:
        summaries = context.engine.api.containers(all=True, filters={"id": container_id})
        saved = load_scan(context.settings.state_dir, context.engine_id)
        found = merge_with_live(saved, live_containers(summaries))
    except Exception as exc:
        log.debug("inspecting a container for the status stream: %s", exc)
        found = []
    if found and found[0].id == container_id:
        return found[0].model_dump()
    return {"id": container_id, "name": name}


def event_message(context: ApiContext, event: dict[str, Any]) -> str | None:
    action = str(event.get("Action") or event.get("status") or "")
    kind = change_type(action)
    if kind is None:
        return None
    actor = event.get("Actor") or {}
    container_id = str(actor.get("ID") or event.get("id") or "")
    name = str((actor.get("Attributes") or {}).get("name", ""))
    data = (
        {"id": container_id, "name": name}
        if kind == "destroyed"
        else _object(context, container_id, name)
    )
    if kind == HEALTH:
        data["health"] = health_of(action)
    return message(kind, data)


def _follow_events(context: ApiContext, feed: Feed) -> str:
    while not feed.stopping.is_set():
        engine = stream_client(context.settings)
        try:
            events = live.container_events(engine)
        except Exception as exc:
            log.info("container events unavailable, retrying: %s", exc)
            engine.close()
            feed.stopping.wait(RECONNECT_SECONDS)
            continue
        if feed.hold(events):
            for event in events:
                text = event_message(context, event)
                if text is not None:
                    feed.send(text)
            feed.release(events)
        engine.close()
        feed.stopping.wait(RECONNECT_SECONDS)
    return "stopped"


class _RunWatch:
    """What the state directory said at the last look."""

    def __init__(self, context: ApiContext) -> None:
        self.context = context
        self.scan = load_scan(context.settings.state_dir, context.engine_id)
        self.seen = read_outcomes(context.settings.state_dir).seq

    def look(self, feed: Feed) -> None:
        state_dir, context = self.context.settings.state_dir, self.context
        latest = load_scan(state_dir, context.engine_id)
        if latest is not None and latest != self.scan:
            changed = newly_available(self.scan, latest)
            self.scan = latest
            listed = _listed(context) if changed else {}
            for container in changed:
                found = listed.get(container.id, container.model_dump())
                feed.send(message("update_available", found))
        outcomes = read_outcomes(state_dir)
        if outcomes.seq != self.seen:
            new = streamed_since(outcomes, self.seen)
            self.seen = outcomes.seq
            by_name = {c["name"]: c for c in _listed(context).values()} if new else {}
            for outcome in new:
                data = by_name.get(outcome.name, {"name": outcome.name})
                feed.send(message(outcome.result, {**data, "reason": outcome.reason}))


def _watch_runs(context: ApiContext, feed: Feed) -> str:
    """`update_available` when a saved scan finds a container newly outdated; `updated` and
    `rolled_back` for each outcome an update run appended."""
    watch: _RunWatch | None = None
    while True:
        try:
            if watch is None:  # the engine's id names its saved scan: it must answer first
                watch = _RunWatch(context)
            else:
                watch.look(feed)
        except Exception as exc:
            log.debug("looking at the runs' outcomes: %s", exc)
        if feed.stopping.wait(LOOK_SECONDS):
            return "stopped"


class StatusSource:
    """Two threads: the engine's events, and the state directory's runs."""

    def __init__(self, context: ApiContext) -> None:
        self._parts = [
            ThreadSource("watchdocker-status-events", lambda feed: _follow_events(context, feed)),
            ThreadSource("watchdocker-status-runs", lambda feed: _watch_runs(context, feed)),
        ]

    def start(self, publish: Callable[[str], None], end: Callable[[str], None]) -> None:
        for part in self._parts:
            part.start(publish, end)

    def stop(self) -> None:
        for part in self._parts:
            part.stop()
