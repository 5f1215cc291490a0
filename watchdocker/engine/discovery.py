"""What runs on an engine: each container with the facts a scan needs, in few API calls
(one list, one inspect per distinct image, an inspect per container only when the list does
not name its image). Old containers an update set aside (`<name>-watchdocker-old-<id>`) are no
services: they are never listed."""

from __future__ import annotations

import re
from collections.abc import Collection

import docker
from pydantic import BaseModel, Field

from watchdocker.update.journal import aside_service

_IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{12,64}")


class ContainerInfo(BaseModel):
    id: str
    name: str
    image: str = Field(description="the image reference the container was created from")
    image_id: str
    running: bool
    state: str
    labels: dict[str, str] = Field(default_factory=dict)
    repo_digests: list[str] = Field(default_factory=list)
    platform: str = Field("linux/amd64", description="os/architecture[/variant] of its image")


def _platform(image: dict) -> str:
    parts = [image.get("Os") or "linux", image.get("Architecture") or "amd64"]
    if image.get("Variant"):
        parts.append(image["Variant"])
    return "/".join(parts)


def _name(summary: dict) -> str:
    return (summary.get("Names") or ["/" + summary["Id"][:12]])[0].lstrip("/")


def service_names(client: docker.DockerClient) -> set[str]:
    """The names of every container, running or not, with one list call; an aside container
    counts for its service (whose update is in progress)."""
    names = (_name(summary) for summary in client.api.containers(all=True))
    return {aside_service(name) or name for name in names}


def discover_containers(
    client: docker.DockerClient, include_stopped: bool, names: Collection[str] | None = None
) -> list[ContainerInfo]:
    """`names`: only these containers, the others not inspected (default: every one)."""
    api = client.api
    images: dict[str, dict] = {}
    found = []
    for summary in api.containers(all=include_stopped):
        name = _name(summary)
        if aside_service(name) or (names is not None and name not in names):
            continue
        image_id = summary.get("ImageID", "")
        image_text = summary.get("Image", "")
        if not image_text or _IMAGE_ID.fullmatch(image_text):
            # The list shows an ID when the tag has since moved; the config keeps the name.
            image_text = api.inspect_container(summary["Id"])["Config"]["Image"]
        if image_id not in images:
            try:
                images[image_id] = api.inspect_image(image_id)
            except docker.errors.ImageNotFound:
                images[image_id] = {}
        image = images[image_id]
        found.append(
            ContainerInfo(
                id=summary["Id"],
                name=name,
                image=image_text,
                image_id=image_id,
                running=summary.get("State") == "running",
                state=summary.get("State", ""),
                labels=summary.get("Labels") or {},
                repo_digests=image.get("RepoDigests") or [],
                platform=_platform(image),
            )
        )
    return sorted(found, key=lambda c: c.name)
