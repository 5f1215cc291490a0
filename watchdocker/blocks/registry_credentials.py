"""Registry credentials kept in Prefect as prefect-docker `DockerRegistryCredentials` blocks:
every block of that type is a credential for the host of its `registry_url`."""

from __future__ import annotations

from prefect_docker.credentials import DockerRegistryCredentials
from pydantic import SecretStr

from watchdocker.blocks import saved_blocks
from watchdocker.registry.credentials import StaticCredential


def registry_credential_blocks() -> list[StaticCredential]:
    """All `DockerRegistryCredentials` blocks on the Prefect server, as credentials."""
    return [
        StaticCredential(
            host=block.registry_url,
            username=block.username,
            password=block.password
            if isinstance(block.password, SecretStr)
            else SecretStr(str(block.password)),
            source=f"block {name}",
        )
        for name, block in saved_blocks(DockerRegistryCredentials)
    ]
