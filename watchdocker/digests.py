"""How digests are shown to people: short in tables and messages, in full in `--json`."""

from __future__ import annotations


def short_digest(digest: str | None) -> str:
    """`sha256:0123456789abcdef…` -> `0123456789ab`; `?` when unknown."""
    if not digest:
        return "?"
    return digest.rpartition(":")[2][:12]
