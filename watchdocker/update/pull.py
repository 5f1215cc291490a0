"""Pulling exactly what the scan checked: by digest, with the scan's credentials."""

from __future__ import annotations

import docker

from watchdocker.reference import ImageReference
from watchdocker.registry.credentials import IDENTITY_TOKEN_USER, Credential


class PullFailed(Exception):
    pass


def auth_config(credential: Credential | None) -> dict[str, str] | None:
    if credential is None:
        return None
    secret = credential.password.get_secret_value()
    if credential.username == IDENTITY_TOKEN_USER:
        return {"identitytoken": secret}
    return {"username": credential.username, "password": secret}


def pull_by_digest(
    api: docker.APIClient, reference: ImageReference, digest: str, credential: Credential | None
) -> str:
    """Pull `name@digest`, tag it as the reference's `name:tag` (so the container keeps following
    its tag), and return the image ID. The running service is untouched meanwhile."""
    # The engine reports registry errors inside the stream, not as an HTTP error.
    for event in api.pull(
        reference.name, tag=digest, stream=True, decode=True, auth_config=auth_config(credential)
    ):
        if isinstance(event, dict) and event.get("error"):
            raise PullFailed(f"pull of {reference.name}@{digest} failed: {event['error']}")
    image_id = api.inspect_image(f"{reference.name}@{digest}")["Id"]
    if reference.tag:
        api.tag(image_id, reference.name, reference.tag)
    return image_id
