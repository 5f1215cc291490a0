"""The short form of an image digest that people read in tables, notifications and approval
forms; the full digest stays in `--json` and the logs."""

from __future__ import annotations

import re

SHORT_DIGEST_LENGTH = 12  # as `docker images` shows image ids


def short_digest(digest: str | None) -> str:
    """`sha256:0123456789abcdef…` -> `0123456789ab`; empty when there is no digest."""
    if not digest:
        return ""
    return digest.rpartition(":")[2][:SHORT_DIGEST_LENGTH]


_IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{64}")
_BY_DIGEST = re.compile(r"(?P<name>.+@sha256:)(?P<digest>[0-9a-f]{64})")


def short_image(image: str) -> str:
    """A container's image as a table shows it: an image ID (a container created from
    `docker run sha256:…`) short, as `docker ps` shows it; the digest of a reference by digest
    short (`repo@sha256:0123456789ab`); any other reference as it is."""
    if _IMAGE_ID.fullmatch(image):
        return short_digest(image)
    if by_digest := _BY_DIGEST.fullmatch(image):
        return by_digest["name"] + by_digest["digest"][:SHORT_DIGEST_LENGTH]
    return image
