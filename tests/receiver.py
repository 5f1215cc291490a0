"""A real HTTP receiver on loopback for notification tests: apprise's json:// and form://
URLs POST to it, and it records what arrived."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest


@dataclass
class Received:
    path: str
    content_type: str
    body: bytes

    def fields(self) -> dict[str, str]:
        if self.content_type.startswith("application/json"):
            return json.loads(self.body)
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class Receiver:
    port: int
    status: int = 200
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP server on loopback that records every POST and answers `status`."""
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append(Received(self.path, self.headers["Content-Type"], body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()
