"""A terminal on a WebSocket: text or binary frames are keystrokes, a text frame
`{"type": "resize", "cols": N, "rows": M}` resizes the TTY, and the TTY's output goes out as
binary frames. A thread reads the terminal (it blocks) and one writes to it; the output waits
for the client (a bounded queue), so a slow client slows the shell, not the server. Every
session is logged (who, where, when, how long), never what is typed or shown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from watchdocker.api.deps import User
from watchdocker.logs import log_event
from watchdocker.streams.manager import Ended
from watchdocker.streams.session import (
    client_of,
    close,
    first_of,
    parse_resize,
    until_expired,
)
from watchdocker.streams.terminals import Terminal
from watchdocker.streams.threads import in_thread

log = logging.getLogger("watchdocker.api.streams")

OUTPUT_QUEUE = 64  # chunks of output waiting for the client


class _Bridge:
    def __init__(self, terminal: Terminal, loop: asyncio.AbstractEventLoop) -> None:
        self.terminal = terminal
        self.loop = loop
        self.output: asyncio.Queue[bytes] = asyncio.Queue(OUTPUT_QUEUE)
        self.input: queue.Queue[bytes | tuple[int, int] | None] = queue.Queue()
        self.closing = threading.Event()
        self.reader = threading.Thread(target=self._read, name="watchdocker-shell-out", daemon=True)
        self.writer = threading.Thread(target=self._write, name="watchdocker-shell-in", daemon=True)

    def _read(self) -> None:
        while True:
            data = self.terminal.read()
            if not self._hand_over(data) or not data:
                return

    def _hand_over(self, data: bytes) -> bool:
        """Waits for room in the output queue; False once the session is closing."""
        try:
            future = asyncio.run_coroutine_threadsafe(self.output.put(data), self.loop)
        except RuntimeError:  # the loop is closed
            return False
        while not self.closing.is_set():
            try:
                future.result(timeout=0.5)
                return True
            except FutureTimeout:
                continue
        future.cancel()
        return False

    def _write(self) -> None:
        while (item := self.input.get()) is not None:
            try:
                if isinstance(item, tuple):
                    self.terminal.resize(*item)
                else:
                    self.terminal.write(item)
            except Exception as exc:  # the terminal ended: the reader says so
                log.debug("shell input: %s", exc)

    async def send_output(self, websocket: WebSocket) -> Ended:
        while data := await self.output.get():
            await websocket.send_bytes(data)
        return Ended("the shell ended")

    async def take_input(self, websocket: WebSocket) -> Ended:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                frame = await websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                if frame.get("bytes"):
                    self.input.put(frame["bytes"])
                elif text := frame.get("text"):
                    size = parse_resize(text)
                    self.input.put(size if size else text.encode())
        return Ended("the client left")

    def end(self) -> None:
        """Blocking: the process ends, both threads end, then the terminal is released."""
        self.closing.set()
        self.input.put(None)
        try:
            self.terminal.close()
        finally:
            self.reader.join()
            self.writer.join()
            self.terminal.release()


async def run_terminal(websocket: WebSocket, user: User, terminal: Terminal, where: str) -> None:
    started, opened = time.monotonic(), datetime.now(UTC).isoformat(timespec="seconds")
    fields = {"component": "streams", "user": user.name, "client": client_of(websocket)}
    log_event(log, logging.INFO, "shell opened", action="shell", target=where, **fields)
    bridge = _Bridge(terminal, asyncio.get_running_loop())
    bridge.reader.start()
    bridge.writer.start()
    try:
        ended = await first_of(
            bridge.send_output(websocket), bridge.take_input(websocket), until_expired(user)
        )
    finally:
        await in_thread(bridge.end, "watchdocker-shell-end")
        log_event(
            log,
            logging.INFO,
            "shell closed",
            action="shell",
            target=where,
            opened=opened,
            seconds=round(time.monotonic() - started, 1),
            **fields,
        )
    await close(websocket, ended)
