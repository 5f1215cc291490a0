"""The short form of an image digest that people read in tables, notifications and approval
forms; the full digest stays in `--json` and the logs."""

from __future__ import annotations

SHORT_DIGEST_LENGTH = 12  # as `docker images` shows image ids


def short_digest(digest: str | None) -> str:
    """`sha256:0123456789abcdef…` -> `0123456789ab`; empty when there is no digest."""
    if not digest:
        return ""
    return digest.rpartition(":")[2][:SHORT_DIGEST_LENGTH]
