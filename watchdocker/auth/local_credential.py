"""How the CLI on serve's host reaches serve's API without anyone typing a password: serve
publishes its API address under the state directory, beside a credential made once (mode
0600, so only the user who runs serve can read it). The API takes that credential as a full
token of the local user."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from watchdocker.auth.secret_file import secret_file, write_private

LOCAL_USER = "local"  # the name runs and logs give what the local credential does


def _folder(state_dir: Path) -> Path:
    return state_dir / "api"


def local_credential(state_dir: Path) -> str:
    return secret_file(_folder(state_dir) / "local-credential", lambda: secrets.token_urlsafe(32))


@dataclass(frozen=True)
class PublishedApi:
    url: str
    settings_digest: str  # config.run_settings_digest of serve's settings


def publish_api_address(state_dir: Path, api: PublishedApi) -> None:
    write_private(_folder(state_dir) / "address", f"{api.url}\n{api.settings_digest}\n")


def withdraw_api_address(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (_folder(state_dir) / "address").unlink()


def published_api_address(state_dir: Path) -> PublishedApi | None:
    """The API serve published, None when no serve of this state directory runs (or one
    stopped without withdrawing it: the caller checks that it answers)."""
    try:
        url, _, digest = (_folder(state_dir) / "address").read_text().strip().partition("\n")
    except OSError:
        return None
    return PublishedApi(url.strip(), digest.strip()) if url.strip() else None
