"""The API served by uvicorn in a thread of `watch-docker serve`'s process, so that a route
runs the same code, settings and Prefect client as the deployments serve runs. The socket is
bound before the thread starts, so a taken port stops serve at once with one line."""

from __future__ import annotations

import socket
import threading

import uvicorn
from fastapi import FastAPI

from watchdocker.api.listen import ListenAddress
from watchdocker.auth.local_credential import (
    PublishedApi,
    publish_api_address,
    withdraw_api_address,
)
from watchdocker.config import Settings, run_settings_digest
from watchdocker.deployments.quiet_uvicorn import QuietServer

PING_SECONDS = 20.0


class ApiUnavailable(Exception):
    """The API's address cannot be bound; the message names it and what to change."""


def bind(address: ListenAddress) -> socket.socket:
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address.host, address.port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ApiUnavailable(
            f"the API cannot listen on {address.host}:{address.port}: {reason[:1].lower()}"
            f"{reason[1:]}; set server.addr (WATCH_SERVER_ADDR) to a free address"
        ) from None
    sock.listen(128)
    sock.set_inheritable(False)  # flow-run subprocesses must not hold the API's port
    return sock


class ApiServer:
    """Started, it publishes its address under the state directory for the CLI; stopped, it
    withdraws it."""

    def __init__(
        self, app: FastAPI, address: ListenAddress, sock: socket.socket, settings: Settings
    ) -> None:
        self.address = address
        self._socket = sock
        self._state_dir = settings.state_dir
        self._published = PublishedApi(address.url, run_settings_digest(settings))
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            # The streams' keepalive: a client that answers no ping within 20 s is gone
            # (a half-open socket), and its stream session ends.
            ws_ping_interval=PING_SECONDS,
            ws_ping_timeout=PING_SECONDS,
        )
        self._server = QuietServer(config)
        self._thread = threading.Thread(target=self._run, name="watchdocker-api", daemon=True)

    def _run(self) -> None:
        # Signal handlers are installed only from the main thread: serve keeps its own.
        self._server.run(sockets=[self._socket])

    def start(self) -> None:
        self._thread.start()
        publish_api_address(self._state_dir, self._published)

    def stop(self) -> None:
        withdraw_api_address(self._state_dir)
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
