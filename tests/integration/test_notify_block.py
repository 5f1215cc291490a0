"""AppriseNotifier blocks on a real Prefect server: saved, loaded with every other block of the
type, notified, stored with the URLs obfuscated."""

from __future__ import annotations

import json

import pytest
from prefect.client.orchestration import get_client
from pydantic import SecretStr
from receiver import Receiver

import testbed as tb
from watchdocker.blocks.notifier import AppriseNotifier, apprise_notifier_urls, configured_notifier
from watchdocker.config import Settings
from watchdocker.notify import Message

pytestmark = pytest.mark.integration

SECRET = "topsecret-block-token"


def test_block_urls_are_loaded_and_notified(prefect_server: str, receiver: Receiver) -> None:
    port = receiver.port
    block_url = f"json://user:{SECRET}@127.0.0.1:{port}/from-block"
    name = f"wdt-{tb.RUN_ID}-notify".lower()
    AppriseNotifier(urls=[SecretStr(block_url)]).save(name, overwrite=True)
    with get_client(sync_client=True) as client:
        try:
            assert block_url in [url.get_secret_value() for url in apprise_notifier_urls()]

            settings = Settings(notify={"urls": [f"json://127.0.0.1:{port}/from-config"]})
            notifier = configured_notifier(settings)
            assert notifier.send(Message(title="t", body="b", level="warning"))
            received = [(r.path, r.fields()) for r in receiver.received]
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
