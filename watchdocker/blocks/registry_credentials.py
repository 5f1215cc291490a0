"""Registry credentials kept in Prefect as prefect-docker `DockerRegistryCredentials` blocks:
every block of that type is a credential for the host of its `registry_url`."""

from __future__ import annotations

import logging

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect_docker.credentials import DockerRegistryCredentials
from pydantic import SecretStr

from watchdocker.registry.credentials import StaticCredential

log = logging.getLogger(__name__)

BLOCK_TYPE_SLUG = "docker-registry-credentials"


def registry_credential_blocks() -> list[StaticCredential]:
    """All `DockerRegistryCredentials` blocks on the Prefect server, as credentials."""
    try:
        with get_client(sync_client=True) as client:
            documents = client.read_block_documents_by_type(BLOCK_TYPE_SLUG, include_secrets=True)
    except (ObjectNotFound, PrefectHTTPStatusError):
        return []  # the block type is not registered: nobody created one
    found = []
    for document in documents:
        try:
            block = DockerRegistryCredentials.model_validate(document.data)
        except ValueError:
            log.warning("ignoring DockerRegistryCredentials block %r: invalid", document.name)
            continue
        password = block.password
        found.append(
            StaticCredential(
                host=block.registry_url,
                username=block.username,
                password=password if isinstance(password, SecretStr) else SecretStr(str(password)),
                source=f"block {document.name}",
            )
        )
    return found
