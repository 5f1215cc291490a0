"""AppriseNotifier blocks on a real Prefect server: saved, loaded with every other block of the
type, notified, stored with the URLs obfuscated."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prefect.client.orchestration import get_client
from pydantic import SecretStr

import testbed as tb
from watchdocker.blocks.notifier import AppriseNotifier, apprise_notifier_urls, configured_notifier
from watchdocker.config import Settings
from watchdocker.notify import Message

pytestmark = pytest.mark.integration

SECRET = "topsecret-block-token"


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[tuple[str, dict[str, str]]]]]:
    """A loopback HTTP server recording (path, JSON body) of every POST."""
    received: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()
    thread.join()


def test_block_urls_are_loaded_and_notified(
    prefect_server: str, receiver: tuple[int, list[tuple[str, dict[str, str]]]]
) -> None:
    port, received = receiver
    block_url = f"json://user:{SECRET}@127.0.0.1:{port}/from-block"
    name = f"wdt-{tb.RUN_ID}-notify".lower()
    AppriseNotifier(urls=[SecretStr(block_url)]).save(name, overwrite=True)
    with get_client(sync_client=True) as client:
        try:
            assert block_url in [url.get_secret_value() for url in apprise_notifier_urls()]

            settings = Settings(notify={"urls": [f"json://127.0.0.1:{port}/from-config"]})
            notifier = configured_notifier(settings)
            assert notifier.send(Message(title="t", body="b", level="warning"))
            assert sorted(path for path, _ in received) == ["/from-block", "/from-config"]
            assert all(
                (body["title"], body["message"], body["type"]) == ("t", "b", "warning")
                for _, body in received
            )

            # What the UI and API show without include_secrets: Prefect masks the list whole.
            stored = client.read_block_document_by_name(
                name, block_type_slug=AppriseNotifier.get_block_type_slug(), include_secrets=False
            )
            assert SECRET not in json.dumps(stored.data, default=str)
            assert stored.data["urls"] == "********", stored.data
            assert stored.block_schema is not None
            assert stored.block_schema.fields["secret_fields"] == ["urls"]
        finally:
            document = client.read_block_document_by_name(
                name, block_type_slug=AppriseNotifier.get_block_type_slug()
            )
            client.delete_block_document(document.id)
    assert block_url not in [url.get_secret_value() for url in apprise_notifier_urls()]
