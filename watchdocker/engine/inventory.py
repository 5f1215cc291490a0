"""What an engine holds now, in one list call each: its containers (services only, not the
old ones an update set aside) and its images with the containers using them; and which one a
person means by an id, an id prefix, a name or a tag."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import docker
from pydantic import BaseModel

from watchdocker.update.journal import aside_service

_NO_TAG = "<none>:<none>"


class LiveContainer(BaseModel):
    id: str
    name: str
    image: str
    running: bool
    state: str
    created: float  # epoch seconds
    image_id: str


class ImageEntry(BaseModel):
    id: str
    tags: list[str]
    size: int
    created: str  # ISO 8601, UTC
    inUseBy: list[str]  # names of the containers (running or not) created from it


class NoSuchObject(LookupError):
    """Nothing matches what a person gave; the message says so."""


class AmbiguousId(ValueError):
    """An id prefix matches more than one; the message names them."""


def container_name(summary: dict) -> str:
    return (summary.get("Names") or ["/" + summary["Id"][:12]])[0].lstrip("/")


def live_container(summary: dict) -> LiveContainer:
    return LiveContainer(
        id=summary["Id"],
        name=container_name(summary),
        image=summary.get("Image", ""),
        running=summary.get("State") == "running",
        state=summary.get("State", ""),
        created=float(summary.get("Created") or 0),
        image_id=summary.get("ImageID", ""),
    )


def live_containers(summaries: Iterable[dict]) -> list[LiveContainer]:
    """Every service container of a `containers(all=True)` answer, by name."""
    found = (live_container(s) for s in summaries)
    return sorted((c for c in found if not aside_service(c.name)), key=lambda c: c.name)


def list_live_containers(client: docker.DockerClient) -> list[LiveContainer]:
    return live_containers(client.api.containers(all=True))


def _bare_id(text: str) -> str:
    return text.lower().removeprefix("sha256:")


def _by_id_prefix(what: str, named: str, given: str, ids: dict[str, str]) -> str:
    """The one id of `ids` (id -> its `named`, to show) starting with `given`."""
    prefix = _bare_id(given)
    matches = [full for full in ids if _bare_id(full).startswith(prefix)] if prefix else []
    if len(matches) > 1:
        names = ", ".join(sorted(ids[m] for m in matches)[:5])
        raise AmbiguousId(
            f"{what} id prefix {given!r} matches {len(matches)} {what}s ({names}): "
            f"give more of the id, or the {named}"
        )
    if not matches:
        raise NoSuchObject(f"no {what} {given!r}: give an id, a unique id prefix or a {named}")
    return matches[0]


def find_container(containers: Sequence[LiveContainer], given: str) -> LiveContainer:
    """By exact name (a leading `/` allowed), full id, then unique id prefix, as Docker does."""
    wanted = given.strip().lstrip("/")
    for container in containers:
        if wanted in (container.name, container.id):
            return container
    full = _by_id_prefix("container", "name", wanted, {c.id: c.name for c in containers})
    return next(c for c in containers if c.id == full)


def image_entries(images: Iterable[dict], containers: Iterable[LiveContainer]) -> list[ImageEntry]:
    """The engine's images (`images()` answer), each with the containers using it."""
    users: dict[str, list[str]] = {}
    for container in containers:
        users.setdefault(container.image_id, []).append(container.name)
    entries = [
        ImageEntry(
            id=image["Id"],
            tags=sorted(tag for tag in image.get("RepoTags") or [] if tag != _NO_TAG),
            size=int(image.get("Size") or 0),
            created=datetime.fromtimestamp(int(image.get("Created") or 0), UTC).isoformat(),
            inUseBy=sorted(users.get(image["Id"], [])),
        )
        for image in images
    ]
    return sorted(entries, key=lambda e: (e.tags[:1] or ["~"], e.id))


def _with_tag(name: str) -> str:
    # `busybox` means `busybox:latest`, as for docker; a port is no tag (`host:5000/x`).
    return name if ":" in name.rsplit("/", 1)[-1] or "@" in name else f"{name}:latest"


def find_image(images: Sequence[ImageEntry], given: str) -> tuple[ImageEntry, str | None]:
    """By tag (`name` meaning `name:latest`), full id, then unique id prefix. Returns the
    image and the tag it was named by (None when named by id)."""
    wanted = given.strip()
    tag = _with_tag(wanted)
    for image in images:
        if tag in image.tags:
            return image, tag
    for image in images:
        if _bare_id(wanted) == _bare_id(image.id):
            return image, None
    labels = {i.id: (i.tags[0] if i.tags else i.id[7:19]) for i in images}
    full = _by_id_prefix("image", "tag", wanted, labels)
    return next(i for i in images if i.id == full), None
