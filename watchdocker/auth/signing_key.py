"""The key the API signs its tokens with: `auth.jwtSecret`, or one made once. Apart from the
tokens, so that the settings check a configured key without importing a JWT library."""

from __future__ import annotations

import secrets
from pathlib import Path

from watchdocker.auth.secret_file import secret_file

# RFC 7518 §3.2: an HS256 key must be at least as long as the hash, 256 bits.
MIN_KEY_BYTES = 32


def check_signing_key(key: str) -> None:
    """Raises ValueError when `key` is too short to sign with."""
    if len(key.encode()) < MIN_KEY_BYTES:
        raise ValueError(f"is too short: at least {MIN_KEY_BYTES} characters (or leave it unset)")


def signing_key(configured: str | None, state_dir: Path) -> str:
    """`auth.jwtSecret` when set, else a key made once under `<state_dir>/api/jwt.key` (0600),
    so tokens outlive a restart of serve."""
    if configured is not None:
        return configured
    return secret_file(state_dir / "api" / "jwt.key", lambda: secrets.token_urlsafe(48))
