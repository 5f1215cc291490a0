"""Registries that misbehave on purpose, on loopback: fault injection only (a real registry
cannot be made to answer 429 or garbage on demand). The happy paths use the real registry."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import testbed as tb

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def manifest_for(image_id: str) -> bytes:
    """A manifest whose config digest is `image_id`: the engine's ID of the image it makes."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"digest": image_id},
            "layers": [],
        }
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    server: FaultyRegistry

    def log_message(self, *_: object) -> None:
        pass

    def handle(self) -> None:
        if self.server.mode == "hang" and not self.server.manifests_only:
            # Accepts the connection, then never reads or says anything (TLS included).
            self.server.requests.append(("", "", time.monotonic()))
            self.server.stop.wait()
            return
        super().handle()

    def do_GET(self) -> None:
        self.server.answer(self, "GET")

    def do_HEAD(self) -> None:
        self.server.answer(self, "HEAD")


class FaultyRegistry(ThreadingHTTPServer):
    """mode: `garbage` (HTML where a manifest should be), `rate-limit` (429 with Retry-After
    `rate_limited` times, then a manifest for `image_id`), `slow` (never answers in time),
    `hang` (accepts connections and never answers), `drip` (a status line, then a header line
    every `drip_every` seconds, never done). With `manifests_only`, `GET /v2/` answers and only
    manifest requests misbehave. `delay`: seconds before each manifest answer."""

    daemon_threads = True

    def __init__(
        self,
        mode: str,
        image_id: str = "",
        rate_limited: int = 1,
        manifests_only: bool = False,
        drip_every: float = 0.5,
        delay: float = 0.0,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.body = manifest_for(image_id) if image_id else b""
        self.rate_limited = rate_limited
        self.manifests_only = manifests_only
        self.drip_every = drip_every
        self.delay = delay
        self.requests: list[tuple[str, str, float]] = []  # method, path, monotonic time
        self.stop = threading.Event()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def answer(self, handler: _Handler, method: str) -> None:
        self.requests.append((method, handler.path, time.monotonic()))
        if self.mode == "slow":
            self.stop.wait(30)
            return
        if handler.path == "/v2/" and (self.manifests_only or self.mode not in ("hang", "drip")):
            return self._send(handler, 200, b"{}", "application/json")
        if self.mode == "hang":
            self.stop.wait()
            return
        if self.mode == "drip":
            return self._drip(handler)
        self.stop.wait(self.delay)
        if self.mode == "garbage":
            return self._send(
                handler, 200, b"<html><body>Welcome to nginx!</body></html>", "text/html"
            )
        if self.mode == "rate-limit" and self.rate_limited > 0:
            self.rate_limited -= 1
            return self._send(handler, 429, b"slow down", "text/plain", {"Retry-After": "1"})
        digest = "sha256:" + hashlib.sha256(self.body).hexdigest()
        self._send(handler, 200, self.body, OCI_MANIFEST, {"Docker-Content-Digest": digest})

    def _drip(self, handler: _Handler) -> None:
        # Each line resets a per-read timeout; only a total deadline ends this answer.
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        line = 0
        while not self.stop.wait(self.drip_every):
            line += 1
            try:
                handler.wfile.write(f"X-Drip-{line}: still there\r\n".encode())
            except OSError:
                return  # the client gave up

    @staticmethod
    def _send(
        handler: _Handler, status: int, body: bytes, content_type: str, headers: dict | None = None
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)


@contextmanager
def faulty_registry(mode: str, **kwargs: object) -> Iterator[FaultyRegistry]:
    server = FaultyRegistry(mode, **kwargs)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()


def dead_address() -> str:
    """A loopback port nobody listens on: a registry that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    time.sleep(0.01)
    return f"127.0.0.1:{port}"


def container_on(address: str, suffix: str) -> str:
    """A running container `wdt-<RUN_ID>-<suffix>` of the base image tagged for the registry at
    `address` (repository `wdt-<RUN_ID>/<suffix>`). Returns its name.

    That registry never held the image, so it is a local build to a scan: only a scan with
    `LOCAL_BUILDS_CHECKED` asks for it. A `watchdocker.force` label would instead make every
    scan on this engine ask, other sessions' included, and spoil the request counts."""
    ref = f"{address}/wdt-{tb.RUN_ID}/{suffix}:latest"
    tb.docker_cli("tag", tb.BASE_IMAGE, ref)
    name = f"wdt-{tb.RUN_ID}-{suffix}"
    tb.run_container(ref, "sleep", "3600", name=name)
    return name


# The scan setting under which containers of `container_on` are checked.
LOCAL_BUILDS_CHECKED = {"skipLocalBuild": False}
