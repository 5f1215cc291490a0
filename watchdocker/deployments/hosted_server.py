"""`watch-docker serve`'s Prefect server, in serve's own process.

A `prefect server start` of its own costs a second interpreter that imports Prefect again
(~200 MB, bench/idle.py); in serve's process the server shares serve's imports. It is the same
server otherwise: this state directory's database and credential, made lighter the same way
(`embedded_server`, `server_services`), its log in `server.log` where serve's outage watch
reads it, and recorded in `server.json` so that one-off commands adopt it. It stops with serve,
once the commands that use it are done (or `USERS_GRACE` has passed).

Prefect reads its settings when it is imported: `start` runs before any Prefect import."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from watchdocker.deployments.embedded_server import migrate_once, slow_docket_polling
from watchdocker.deployments.server_guard import nobody_uses

if TYPE_CHECKING:
    import uvicorn

# The loggers of the server (its API, services, task queue, web framework, HTTP server): to
# server.log only.
SERVER_LOGGERS = ("prefect.server", "docket", "fastapi", "uvicorn")
LOG_FORMAT = "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s"
M_ARENA_MAX = -8  # glibc's mallopt parameter
USERS_GRACE = 60.0  # how long a stopping serve waits for the commands that use its server


def limit_malloc_arenas(arenas: int) -> None:
    """What MALLOC_ARENA_MAX does for a process started with it, for this running one (glibc
    reads the variable only at start); nothing where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).mallopt(M_ARENA_MAX, arenas)


def route_server_logs(log_path: Path) -> None:
    """The server's records go to `log_path`, in Prefect's console format (the one
    `server_health` reads), and not to serve's console."""
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    handler = logging.StreamHandler(os.fdopen(fd, "a", buffering=1))
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False


class HostedServer:
    """The Prefect server of `home`, served by uvicorn in a thread of this process."""

    def __init__(self, home: Path, host: str, port: int) -> None:
        self.home, self.host, self.port = home, host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Starts serving with the Prefect settings of this process's environment; returns at
        once (the caller waits for the API to answer)."""
        migrate_once(self.home)
        slow_docket_polling()
        import uvicorn
        from prefect.server.api.server import create_app

        from watchdocker.deployments.quiet_uvicorn import QuietServer

        app = create_app(final=True)
        route_server_logs(self.home / "server.log")  # after create_app: it sets logging up
        config = uvicorn.Config(
            app, host=self.host, port=self.port, log_config=None, timeout_keep_alive=5
        )
        self._server = QuietServer(config)
        self._thread = threading.Thread(target=self._server.run, name="prefect-server", daemon=True)
        self._thread.start()

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)


def wait_for_users(home: Path, grace: float = USERS_GRACE) -> bool:
    """Waits up to `grace` seconds for the commands that adopted this server to finish;
    whether they did."""
    deadline = time.monotonic() + grace
    while not nobody_uses(home):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
    return True
