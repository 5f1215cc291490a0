"""The DockerHostTLS block: TLS material from its secrets, written to private files, and the
block itself left as it was saved (a TLSConfig in its settings could not be stored again)."""

from __future__ import annotations

import stat
from pathlib import Path

from pydantic import SecretStr

from watchdocker.blocks.docker_host import DockerHostTLS

CA = "-----BEGIN CERTIFICATE-----\nnot checked before a connection\n-----END CERTIFICATE-----\n"


def test_tls_client_uses_the_ca_from_a_private_file_and_leaves_the_block_unchanged() -> None:
    # A fixed API version: no connection is made to build the client.
    block = DockerHostTLS(
        base_url="tcp://127.0.0.1:2376", version="1.41", tls_ca_cert=SecretStr(CA)
    )
    client = block.get_client()
    try:
        assert client.api.base_url == "https://127.0.0.1:2376"
        ca_file = Path(client.api.verify)
        assert ca_file.read_text() == CA
        assert stat.S_IMODE(ca_file.stat().st_mode) == 0o600
    finally:
        client.close()
    assert block.client_kwargs == {}


def test_without_tls_material_the_client_is_plain() -> None:
    block = DockerHostTLS(base_url="tcp://127.0.0.1:2375", version="1.41")
    client = block.get_client()
    try:
        assert client.api.base_url == "http://127.0.0.1:2375"
    finally:
        client.close()
