"""`watch-docker serve`'s local Prefect server (API, UI and services) in a thread of serve's own
process. As a process of its own it imported Prefect, pydantic and FastAPI a second time: most
of either process's memory (bench/idle.py). The lighter start of `embedded_server` applies
here too; the server's own log records go to server.log, where serve's outage watch reads
them, as the process wrote them there.

Prefect reads its settings once, when it is imported: `ServerThread.start` sets them before it
imports Prefect's server, and refreshes them when something imported Prefect earlier."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import threading
import time
from pathlib import Path

import uvicorn

from watchdocker.deployments.embedded_server import lighter_idle, migrate_once
from watchdocker.deployments.quiet_uvicorn import QuietServer
from watchdocker.deployments.server_services import MALLOC_ARENAS, SERVER_LOG

STOP_TIMEOUT = 30.0
# Prefect's console format, which `server_health` reads from server.log.
LOG_FORMAT = "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s"
SERVER_LOGGERS = ("prefect.server", "docket")  # Prefect's server and its services' task queue
M_ARENA_MAX = -8  # glibc's mallopt parameter


class ServerThreadFailed(Exception):
    """The server did not start; the message says where to look."""


def fewer_malloc_arenas(count: int = MALLOC_ARENAS) -> None:
    """What MALLOC_ARENA_MAX does for a process of its own (`server_services`), set from within:
    glibc gives each thread that allocates an arena of its own, and the server's threads kept
    tens of MB of freed memory that way. Not glibc: nothing to do."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, count)


def log_server_to(path: Path) -> logging.Handler:
    """The server's records in `path` instead of serve's console; the handler, to close."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.propagate = False
    return handler


class ServerThread:
    """Started, the server answers at `host:port` (its socket bound by uvicorn in the thread);
    stopped, its services and connections are closed."""

    def __init__(self, home: Path, host: str, port: int, environment: dict[str, str]) -> None:
        self._home = home
        self._host = host
        self._port = port
        self._environment = environment
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._log: logging.Handler | None = None

    @property
    def log_path(self) -> Path:
        return self._home / SERVER_LOG

    def start(self, timeout: float) -> None:
        """Returns once the server has started; ServerThreadFailed when it cannot within
        `timeout` seconds."""
        try:
            self._start(timeout)
        except BaseException:  # a stop asked for meanwhile, too: nothing is left running
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        migrate_once(self._home)
        os.environ.update(self._environment)
        if "prefect.context" in sys.modules:
            from prefect.context import refresh_global_settings_context

            refresh_global_settings_context()
        fewer_malloc_arenas()
        self._log = log_server_to(self.log_path)
        lighter_idle()
        from prefect.server.api.server import create_app

        config = uvicorn.Config(
            create_app(final=True),
            host=self._host,
            port=self._port,
            log_config=None,  # Prefect configured the loggers; uvicorn's defaults would reset them
            access_log=False,
        )
        server = self._server = QuietServer(config)
        # Signal handlers are installed only from the main thread: serve keeps its own.
        self._thread = threading.Thread(target=server.run, name="prefect-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ServerThreadFailed(
                    f"the local Prefect server did not start on {self._host}:{self._port}; "
                    f"see {self.log_path}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(STOP_TIMEOUT)
        if self._log is not None:
            for name in SERVER_LOGGERS:
                logging.getLogger(name).removeHandler(self._log)
            self._log.close()
