"""How the CLI on serve's host reaches serve's API without anyone typing a password: serve
publishes its API address under the state directory, beside a credential made once (mode
0600, so only the user who runs serve can read it). The API takes that credential as a full
token of the local user."""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

from watchdocker.auth.secret_file import secret_file, write_private

LOCAL_USER = "local"  # the name runs and logs give what the local credential does


def _folder(state_dir: Path) -> Path:
    return state_dir / "api"


def local_credential(state_dir: Path) -> str:
    return secret_file(_folder(state_dir) / "local-credential", lambda: secrets.token_urlsafe(32))


def publish_api_address(state_dir: Path, url: str) -> None:
    write_private(_folder(state_dir) / "address", url + "\n")


def withdraw_api_address(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (_folder(state_dir) / "address").unlink()


def published_api_address(state_dir: Path) -> str | None:
    """The URL of the API serve published, None when no serve of this state directory runs
    (or one stopped without withdrawing it: the caller checks that it answers)."""
    try:
        return (_folder(state_dir) / "address").read_text().strip() or None
    except OSError:
        return None
