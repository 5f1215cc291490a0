"""Manifest media types and the choice of one platform's manifest out of an index."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
MANIFEST_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
ACCEPT = ", ".join([DOCKER_MANIFEST_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST])

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class ManifestError(ValueError):
    """A body that is not the manifest it should be."""


def sha256_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """`linux/amd64`, `linux/arm/v7`."""
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"{text!r} is not a platform like linux/amd64 or linux/arm/v7")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def normalized(self) -> Platform:
        # containerd's platforms.Normalize: aliases, and the implied default variants.
        arch = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm"}.get(
            self.architecture.lower(), self.architecture.lower()
        )
        variant = (self.variant or "").lower() or None
        if arch == "arm64" and variant == "v8":
            variant = None
        if arch == "arm" and variant is None:
            variant = "v7"
        return Platform(self.os.lower(), arch, variant)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def _parse_json(body: bytes, what: str) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ManifestError(f"{what} is not JSON") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{what} is not a JSON object")
    return data


def media_type_of(body: bytes, content_type: str | None) -> str:
    """The manifest's media type, from its body where it says, else the Content-Type header."""
    data = _parse_json(body, "the manifest")
    media_type = data.get("mediaType") or (content_type or "").split(";")[0].strip()
    if not isinstance(media_type, str):
        raise ManifestError("the manifest's mediaType is not a string")
    if media_type not in INDEX_TYPES | MANIFEST_TYPES:
        if "manifests" in data:
            return OCI_INDEX
        if "config" in data and "layers" in data:
            return OCI_MANIFEST
        raise ManifestError(f"unsupported manifest type {media_type or 'unknown'!r}")
    return media_type


def select_platform(index_body: bytes, platform: Platform) -> str:
    """The digest of the index entry for `platform`; ManifestError when it has none."""
    data = _parse_json(index_body, "the index")
    entries = data.get("manifests")
    if not isinstance(entries, list):
        raise ManifestError("the index has no 'manifests' list")
    wanted = platform.normalized()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("platform"), dict):
            continue
        p = entry["platform"]
        variant = p.get("variant")
        if variant is not None and not isinstance(variant, str):
            continue
        candidate = Platform(str(p.get("os", "")), str(p.get("architecture", "")), variant)
        if candidate.normalized() == wanted and DIGEST.fullmatch(str(entry.get("digest", ""))):
            return entry["digest"]
    raise ManifestError(f"the index has no manifest for {wanted}")


def config_digest(manifest_body: bytes) -> str:
    """The image config digest of a single-platform manifest: the engine's image ID."""
    data = _parse_json(manifest_body, "the manifest")
    config = data.get("config")
    digest = config.get("digest") if isinstance(config, dict) else None
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise ManifestError("the manifest has no valid config digest")
    return digest
