"""The engine's endless streams, each closeable from another thread (which ends a read blocked
on it): container events, a container's stats and its followed logs with each chunk's stream,
and an interactive exec session with a TTY. docker-py has no public call for the last three
in this form, so its low-level client is used here, in one place."""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterator
from typing import Any

import docker
from docker.types.daemon import CancellableStream

from watchdocker.container_events import FOLLOWED_ACTIONS


def container_events(engine: docker.DockerClient) -> CancellableStream:
    """Decoded events of containers, only the actions the status stream tells."""
    stream: CancellableStream = engine.api.events(
        decode=True, filters={"type": "container", "event": FOLLOWED_ACTIONS}
    )
    return stream


def container_stats(engine: docker.DockerClient, container_id: str) -> CancellableStream:
    """A decoded stats message about every second while the container runs."""
    api = engine.api
    response = api._get(
        api._url("/containers/{0}/stats", container_id), params={"stream": True}, stream=True
    )
    api._raise_for_status(response)
    return CancellableStream(api._stream_helper(response, decode=True), response)


def _multiplexed(raw: Any) -> Iterator[tuple[int, bytes]]:
    """Frames of a container without a TTY: an 8-byte header (stream, size) before each."""
    while True:
        header = raw.read(8)
        if len(header) < 8:
            return
        stream, size = struct.unpack(">BxxxL", header)
        data = raw.read(size) if size else b""
        if size and not data:
            return
        yield stream, data


def followed_logs(engine: docker.DockerClient, container_id: str, tail: int) -> CancellableStream:
    """(stream number, bytes) of the last `tail` lines, then of the output as it comes; ends
    when the container stops."""
    api = engine.api
    tty = bool(api.inspect_container(container_id)["Config"].get("Tty"))
    params = {"stdout": 1, "stderr": 1, "follow": 1, "tail": str(tail)}
    response = api._get(api._url("/containers/{0}/logs", container_id), params=params, stream=True)
    api._raise_for_status(response)
    # A quiet container must not time the stream out (docker-py does the same for its logs).
    api._disable_socket_timeout(api._get_raw_response_socket(response))
    if tty:  # raw output, all of it on stdout
        frames = ((1, chunk) for chunk in api._stream_helper(response))
        return CancellableStream(frames, response)
    return CancellableStream(_multiplexed(response.raw), response)


class ExecSession:
    """`docker exec -it` of `command` in a container: its socket carries the keystrokes in and
    the TTY's output out."""

    def __init__(self, engine: docker.DockerClient, container_id: str, command: list[str]):
        self._api = engine.api
        self.container_id = container_id
        self.exec_id: str = self._api.exec_create(
            container_id, command, stdin=True, tty=True, environment={"TERM": "xterm"}
        )["Id"]
        started = self._api.exec_start(self.exec_id, tty=True, socket=True)
        self._socket: socket.socket = getattr(started, "_sock", started)
        self._socket.settimeout(None)

    def read(self) -> bytes:
        try:
            return self._socket.recv(65536)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        self._socket.sendall(data)

    def resize(self, cols: int, rows: int) -> None:
        self._api.exec_resize(self.exec_id, height=rows, width=cols)

    def running(self) -> bool:
        return bool(self._api.exec_inspect(self.exec_id).get("Running"))

    def run_beside(self, command: list[str]) -> None:
        """Another command in the same container, waited for (the session's own cleanup)."""
        other = self._api.exec_create(self.container_id, command)["Id"]
        self._api.exec_start(other)

    def close_socket(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
