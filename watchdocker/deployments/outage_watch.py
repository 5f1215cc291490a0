"""The watch `watch-docker serve` keeps while it serves: every few seconds, the Prefect server's
health, the errors its services wrote to server.log since the last look, and the Docker engine.
What counts as an outage and when to say so is `server_health`'s; this thread only looks and
tells: one line on serve's stderr and one notification when an outage begins and when it ends."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import docker
import httpx

from watchdocker.config import Settings
from watchdocker.deployments.prefect_env import api_is_healthy
from watchdocker.engine.client import EngineUnavailable, connect
from watchdocker.notify import Level, Message, Notifier
from watchdocker.server_health import (
    Announcement,
    Outages,
    RepeatedErrors,
    service_errors,
)

CHECK_INTERVAL = 10.0  # seconds between looks: as often as the Runner polls for runs
SERVER_CONFIRM = 2  # failed health probes in a row before the server counts as down
ENGINE_TIMEOUT = 5.0


class OutageWatch:
    def __init__(
        self,
        settings: Settings,
        api_url: str,
        server_log: Path | None,
        interval: float = CHECK_INTERVAL,
    ) -> None:
        self._settings = settings
        self._api_url = api_url
        self._server_log = server_log
        self._interval = interval
        self._outages = Outages()
        self._errors = RepeatedErrors()
        # What an earlier server wrote is not this one's problem: read from the end.
        self._log_offset = server_log.stat().st_size if server_log and server_log.exists() else 0
        self._notifier = self._load_notifier(Notifier(settings.notify.urls))
        self._stop = threading.Event()
        # Kept between looks: a new HTTP or engine client for each would cost more CPU than
        # the looks themselves (the watch runs for as long as serve).
        self._http = httpx.Client()
        self._engine: docker.DockerClient | None = None

    def start(self) -> None:
        """Looks once now (so an unreachable engine is said at start), then in a thread."""
        self.check()
        threading.Thread(target=self._loop, name="watch-docker-outages", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.check()
        self._http.close()

    def check(self) -> None:
        now = time.monotonic()
        healthy = api_is_healthy(self._api_url, client=self._http)
        health = None if healthy else self._server_problem()
        self._tell(self._outages.observe("Prefect server", health, confirm=SERVER_CONFIRM))
        self._errors.add(service_errors(self._new_log_lines()), now)
        services = self._errors.problem(now)
        if services:
            services += f"; scheduled runs may not be created or started. See {self._server_log}"
        self._tell(self._outages.observe("Prefect server services", services))
        self._tell(self._outages.observe("Docker engine", self._engine_problem()))

    def _server_problem(self) -> str:
        return (
            f"no answer at {self._api_url.rstrip('/')}/health: no scheduled run starts "
            "until it answers"
        )

    def _engine_problem(self) -> str | None:
        if self._engine is not None:
            try:
                self._engine.ping()
                return None
            except Exception:  # docker's or requests' error: connect again, which says why
                self._engine.close()
                self._engine = None
        try:
            self._engine = connect(self._settings.docker.host, timeout=ENGINE_TIMEOUT)
        except EngineUnavailable as exc:
            return f"{exc}; scans and updates fail until it is back (serve keeps trying)"
        return None

    def _new_log_lines(self) -> list[str]:
        if not self._server_log or not self._server_log.exists():
            return []
        with self._server_log.open("rb") as log:
            if log.seek(0, 2) < self._log_offset:  # a new file: read it from its start
                self._log_offset = 0
            log.seek(self._log_offset)
            text = log.read()
        # Only whole lines: the rest is read next time, when it is complete.
        complete = text[: text.rfind(b"\n") + 1]
        self._log_offset += len(complete)
        return complete.decode(errors="replace").splitlines()

    def _tell(self, announcement: Announcement | None) -> None:
        if announcement is None or self._stop.is_set():  # serve is stopping: not an outage
            return
        kind = "recovered" if announcement.recovered else "outage"
        print(f"watch-docker: {kind}: {announcement.text}", file=sys.stderr, flush=True)
        if announcement.recovered:
            # The server may be back: pick up notifier blocks saved meanwhile.
            self._notifier = self._load_notifier(self._notifier)
        title = f"watch-docker: {announcement.condition} " + (
            "is back" if announcement.recovered else "outage"
        )
        level: Level = "info" if announcement.recovered else "failure"
        self._notifier.send(Message(title, announcement.text, level))

    def _load_notifier(self, fallback: Notifier) -> Notifier:
        """`notify.urls` and every AppriseNotifier block; `fallback` when the server cannot
        tell its blocks (it is what may be down)."""
        from watchdocker.blocks.notifier import configured_notifier

        try:
            return configured_notifier(self._settings)
        except Exception:  # any failure to reach the server: keep telling the known URLs
            return fallback
